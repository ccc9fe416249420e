export * from './fake-clock.js';
export * from './context.js';
export { MemoryCheckpointStore } from '../checkpoint/checkpoint-store.js';
export * from './prng.js';
export * from './certs.js';
export * from './connect-proxy.js';
export * from './fake-unix-datagram.js';
export * from './fake-udp-datagram.js';
export { FakeJournal, toJournalExport, type JournalTestEntry } from './fake-journal.js';
export { FakePdh, type FakePdhCounterKind, type FakePdhObjectDefinition, type FakePdhRaw } from './fake-pdh.js';
export { decodeJournalBatch, journalContract, readAllEntries, type JournalHarness, type ReadEntry } from './contracts/journal.js';
export {
  FakeEventLog,
  compileEventQuery,
  compileEventXPath,
  eventLogBookmarkXml,
  eventLogTestXml,
  parseEventLogBookmark,
  xmlEscape,
  type EventLogTestEvent,
  type EventLogTestEventSpec,
} from './fake-event-log.js';
export { eventLogContract, type EventLogHarness } from './contracts/event-log.js';
