export * from './fake-clock.js';
export * from './context.js';
export { MemoryCheckpointStore } from '../checkpoint/checkpoint-store.js';
export * from './prng.js';
export * from './certs.js';
export * from './connect-proxy.js';
export * from './fake-unix-datagram.js';
