export * from './platform.js';
export * from './generic.js';
