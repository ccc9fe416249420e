export * from './unix-datagram.js';
export * from './udp-datagram.js';
