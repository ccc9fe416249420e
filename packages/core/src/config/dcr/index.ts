export * from './config.js';
export * from './mapper.js';
export * from './apply.js';
export * from './dcr-source.js';
export * from './dcr-watcher.js';
export * from './source-mapping.js';
