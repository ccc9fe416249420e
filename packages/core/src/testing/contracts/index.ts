export * from './unix-datagram.js';
