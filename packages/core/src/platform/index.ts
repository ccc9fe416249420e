export * from './platform.js';
export * from './generic.js';
export * from './host-os.js';
