export * from './fake-clock.js';
export * from './context.js';
export { MemoryCheckpointStore } from '../checkpoint/checkpoint-store.js';
export * from './prng.js';
export * from './certs.js';
export * from './connect-proxy.js';
export * from './fake-unix-datagram.js';
export { FakeJournal, toJournalExport, type JournalTestEntry } from './fake-journal.js';
export { decodeJournalBatch, journalContract, readAllEntries, type JournalHarness, type ReadEntry } from './contracts/journal.js';
