export * from './logger.js';
export * from './metrics.js';
export * from './names.js';
export * from './observability-server.js';
