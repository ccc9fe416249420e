export * from './encoded-batch.js';
export * from './frame.js';
export * from './format.js';
export * from './buffer-pool.js';
