export * from './journal.js';
export * from './udp-datagram.js';
export * from './unix-datagram.js';
export * from './pdh.js';
export * from './event-log.js';
