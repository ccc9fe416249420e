export * from './client-secret-credential.js';
export * from './clouds.js';
export * from './config.js';
export * from './create-credential.js';
export * from './credential.js';
export * from './errors.js';
export * from './token-cache.js';
