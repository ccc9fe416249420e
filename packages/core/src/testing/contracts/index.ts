export * from './unix-datagram.js';
export * from './journal.js';
