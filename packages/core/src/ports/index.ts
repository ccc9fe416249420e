export * from './clock.js';
export * from './host-info.js';
export * from './network.js';
export * from './unix-datagram.js';
export * from './udp-datagram.js';
export * from './journal.js';
export * from './event-log.js';
export * from './pdh.js';
