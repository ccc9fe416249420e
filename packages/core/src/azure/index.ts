export * from './streams.js';
export * from './plan.js';
export * from './template.js';
