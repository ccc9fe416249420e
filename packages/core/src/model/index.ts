export * from './columns.js';
export * from './tables.js';
export * from './record.js';
export * from './validate.js';
