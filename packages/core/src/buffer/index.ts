export * from './types.js';
export { openDiskQueue } from './disk-queue.js';
export { crc32c, crc32cImplementation, type Crc32cImplementation } from './crc32c.js';
export { RECORD_HEADER_BYTES, segmentFileName } from './record-format.js';
