/**
 * Under Wine: events/s through the real koffi wevtapi binding and the test-double wevtapi.dll
 * (EvtNext, EvtRender of each event's XML, EvtFormatMessage when messages are on, EvtUpdateBookmark
 * per batch, EvtClose of each event handle), and peak RSS. The events are appended before the clock
 * starts; the double renders each from a template with its record id.
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createEventLogBinding } from '@oma/windows';
import { eventXml, loadDouble } from './double.js';
import { scenario } from './harness.js';

export interface BenchArgs {
  readonly events: number;
  readonly batchSize: number;
  readonly renderMessages: boolean;
  /** Characters of EventData per event (the XML is about 600 characters more). */
  readonly dataChars: number;
  /** Runs; the best is reported beside each. */
  readonly runs: number;
  /** Map each event to an Event table record with the windows_event_log source's mapping (when built). */
  readonly map: boolean;
}

export interface BenchRun {
  readonly events: number;
  readonly ms: number;
  readonly eventsPerSec: number;
  readonly bookmark: string | undefined;
}

export interface BenchResult {
  readonly runs: BenchRun[];
  readonly xmlChars: number;
  readonly peakRssBytes: number;
  /** RSS of the Wine node.exe process before the first event was appended. */
  readonly startRssBytes: number;
  readonly node: string;
}

/** The windows_event_log source's mapping of event XML to an Event record, from the built @oma/windows. */
type MapEvent = (xml: string, message: string | undefined, ctx: { computer: string; now: () => string }) => unknown;
export const EVENT_MAP_MODULE = new URL('../../../../packages/agent-windows/dist/sources/windows_event_log/map.js', import.meta.url);

async function loadEventMap(): Promise<MapEvent> {
  if (!existsSync(fileURLToPath(EVENT_MAP_MODULE))) throw new Error('the windows_event_log source is not built');
  const mod = (await import(EVENT_MAP_MODULE.href)) as { mapEventRecord?: MapEvent };
  if (typeof mod.mapEventRecord !== 'function') throw new Error('the windows_event_log source has no mapEventRecord');
  return mod.mapEventRecord;
}

const CHANNEL = 'Application';
const PROVIDER = 'OMA-Bench-Provider';

scenario<BenchArgs, BenchResult>(async (args) => {
  const startRssBytes = process.memoryUsage().rss;
  const double = loadDouble();
  const binding = createEventLogBinding();
  const map = args.map ? await loadEventMap() : undefined;
  const ctx = { computer: 'WINEHOST', now: () => new Date().toISOString() };
  let mapped = 0;
  const runs: BenchRun[] = [];
  let xmlChars = 0;
  for (let run = 0; run < args.runs; run++) {
    double.reset();
    double.createChannel(CHANNEL);
    double.append(CHANNEL, PROVIDER, eventXml(PROVIDER, CHANNEL, 4624, args.dataChars), 'An account was successfully logged on.', args.events);
    const sub = binding.subscribe({ channel: CHANNEL, query: '*', start: 'oldest', batchSize: args.batchSize, renderMessages: args.renderMessages });
    let read = 0;
    let last = 0;
    const start = performance.now();
    for (;;) {
      const batch = sub.next();
      if (batch.length === 0) break;
      read += batch.length;
      last = batch.length;
      if (map !== undefined) for (const e of batch) if (map(e.xml, e.message, ctx) !== undefined) mapped++;
      xmlChars = batch[0]!.xml.length;
    }
    const ms = performance.now() - start;
    const bookmark = sub.bookmark();
    sub.close();
    if (read !== args.events || last === 0) throw new Error(`read ${read} events of ${args.events}`);
    if (bookmark?.includes(`RecordId='${args.events}'`) !== true) throw new Error(`the bookmark is not after the last event: ${bookmark}`);
    runs.push({ events: read, ms, eventsPerSec: Math.round((read / ms) * 1000), bookmark });
    await new Promise((r) => setImmediate(r));
  }
  if (map !== undefined && mapped !== args.events * args.runs) throw new Error(`mapped ${mapped} events of ${args.events * args.runs}`);
  if (double.openHandles() !== 0) throw new Error(`${double.openHandles()} handles left open`);
  return { runs, xmlChars, peakRssBytes: process.resourceUsage().maxRSS * 1024, startRssBytes, node: process.version };
});
