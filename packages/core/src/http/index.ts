export * from './abort.js';
export * from './backoff.js';
export * from './body.js';
export * from './classify.js';
export * from './dispatcher.js';
export * from './retry-after.js';
export * from './url.js';
export * from './user-agent.js';
