import { readFileSync } from 'node:fs';
import { bench, describe } from 'vitest';
import { readEventXml } from '../src/sources/windows_event_log/event-xml.js';
import { eventRecord, eventRecordJson, windowsEventRecord } from '../src/sources/windows_event_log/map.js';

/**
 * The windows_event_log source's per-event work on rendered event XML: read the XML (`readEventXml`)
 * and build the Event (or WindowsEvent) record, then its JSON: through a record object and
 * JSON.stringify (what the pipeline does with a record batch), or written directly (what the source does).
 * Every operation maps EVENTS events cycling over real samples (System 7036, Security 4624, Sysmon 1,
 * Application 1000: 1.1 to 2.5 KB each), so µs per event = mean (ms) × 1000 / EVENTS.
 */
const EVENTS = 1000;
const SAMPLES = ['system-7036', 'security-4624', 'sysmon-1', 'application-1000'].map((n) =>
  readFileSync(new URL(`../src/sources/windows_event_log/testdata/${n}.xml`, import.meta.url), 'utf8').trim(),
);
const XML = Array.from({ length: EVENTS }, (_, i) => SAMPLES[i % SAMPLES.length]!);
const ctx = { computer: 'bench-host', now: () => '2026-01-01T00:00:00.000Z' };
let sink = 0;

describe(`windows_event_log mapping, ${EVENTS} events`, () => {
  bench('read XML', () => {
    for (const x of XML) sink += readEventXml(x).data.length;
  });
  bench('read XML + Event record', () => {
    for (const x of XML) sink += eventRecord(readEventXml(x), 'message', ctx).EventID as number;
  });
  bench('read XML + Event record + JSON', () => {
    for (const x of XML) sink += JSON.stringify(eventRecord(readEventXml(x), 'message', ctx)).length;
  });
  bench('read XML + Event JSON written directly', () => {
    for (const x of XML) sink += eventRecordJson(readEventXml(x), 'message', ctx).length;
  });
  bench('read XML + WindowsEvent record + JSON', () => {
    for (const x of XML) sink += JSON.stringify(windowsEventRecord(readEventXml(x), ctx)).length;
  });
});

export { sink };
