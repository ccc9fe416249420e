/**
 * Every status path of the two Azure sinks, against the local workspace: the real sinks of @oma/core
 * sign in, post and retry against the real server, whose answers are either genuine (a schema mismatch,
 * a wrong key, an undeclared stream) or injected with its fault rules (413, 401, 403, 429, 5xx, resets).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  azureDataCollectorSink,
  azureLogsIngestionSink,
  createRootLogger,
  jsonFormat,
  type Batch,
  type LogRecord,
  type WireFormat,
  type Settlement,
  type Sink,
} from '@oma/core';
import { testComponentContext } from '@oma/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseFaultRule, type FaultRule, type LocalWorkspace } from '../src/index.js';
import { removeDir, startWorkspace, tempDir } from './helpers.js';

const CLIENT_ID = '3c3c3c3c-0000-4000-8000-000000000003';
const CLIENT_SECRET = 'status-paths-secret';
const WORKSPACE_ID = '4d4d4d4d-0000-4000-8000-000000000004';
const SHARED_KEY = Buffer.alloc(64, 9).toString('base64');

let ws: LocalWorkspace;
let stop: () => Promise<void>;
const open: Array<{ sink: Sink; dir: string }> = [];

beforeAll(async () => {
  ({ ws, stop } = await startWorkspace({
    clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
    dataCollector: { workspaceId: WORKSPACE_ID, sharedKey: SHARED_KEY },
  }));
});
afterEach(async () => {
  for (const { sink, dir } of open.splice(0)) {
    await sink.stop(AbortSignal.timeout(2_000));
    removeDir(dir);
  }
  ws.faults.clear();
  ws.requests.clear();
});
afterAll(async () => {
  await stop();
});

interface Started {
  readonly sink: Sink;
  readonly stateDir: string;
  readonly logs: Array<{ msg: string; level: number } & Record<string, unknown>>;
}

async function start(kind: 'li' | 'dc', overrides: Record<string, unknown> = {}): Promise<Started> {
  const logs: Started['logs'] = [];
  const log = createRootLogger({ level: 'debug', destination: { write: (l: string) => logs.push(JSON.parse(l) as Started['logs'][number]) } });
  const stateDir = tempDir();
  const ctx = testComponentContext({ log, stateDir });
  const common = { flushIntervalMs: 10, retry: { initialDelayMs: 20, maxDelayMs: 200 }, ...overrides };
  const sink =
    kind === 'li'
      ? azureLogsIngestionSink.create(
          azureLogsIngestionSink.schema.parse({
            endpoint: ws.url,
            dcrImmutableId: ws.dcrImmutableId,
            auth: { type: 'client_secret', tenantId: ws.tenantId, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, authorityHost: ws.url },
            ...common,
          }),
          ctx,
        )
      : azureDataCollectorSink.create(
          azureDataCollectorSink.schema.parse({ endpoint: ws.url, workspaceId: WORKSPACE_ID, sharedKey: SHARED_KEY, ...common }),
          ctx,
        );
  await sink.start();
  open.push({ sink, dir: stateDir });
  return { sink, stateDir, logs };
}

/** The Data Collector sink's wire format with its default property names. */
const DC = azureDataCollectorSink.format!(azureDataCollectorSink.schema.parse({ endpoint: 'https://x.example', workspaceId: WORKSPACE_ID, sharedKey: SHARED_KEY }));

/** A batch as a sink reads it from its queue: encoded in its wire format (default: Logs Ingestion's). */
function batch(table: string, records: LogRecord[], format: WireFormat = jsonFormat): Batch & { settlements: Settlement[] } {
  const settlements: Settlement[] = [];
  return { ...format.encodeRecords(table, records).batch, ack: { settle: (o) => settlements.push(o) }, settlements };
}

function lines(n: number, prefix: string): LogRecord[] {
  return Array.from({ length: n }, (_, i) => ({ TimeGenerated: new Date().toISOString(), RawData: `${prefix}-${i}`, Computer: 'host-1' }));
}

function fault(rule: FaultRule): void {
  ws.faults.add(parseFaultRule(rule));
}

/** Statuses of the requests a route received, in order. */
function statuses(route: 'ingest' | 'token' | 'data_collector'): number[] {
  return ws.requests.entries({ route }).map((r) => r.status);
}

function rows(table: string): Array<Record<string, unknown>> {
  try {
    return ws.store.query({ table, limit: 10_000 }).rows;
  } catch {
    return [];
  }
}

async function settled(b: { settlements: Settlement[] }, timeout = 10_000): Promise<Settlement> {
  await vi.waitFor(() => expect(b.settlements).toHaveLength(1), { timeout, interval: 20 });
  return b.settlements[0]!;
}

describe('Logs Ingestion sink against the local workspace', () => {
  it('2xx: delivered and stored', async () => {
    const { sink } = await start('li');
    const b = batch('Ok_CL', lines(3, 'ok'));
    await sink.write(b, AbortSignal.timeout(5_000));
    expect(await settled(b)).toBe('delivered');
    expect(rows('Ok_CL').map((r) => r.RawData).sort()).toEqual(['ok-0', 'ok-1', 'ok-2']);
    expect(statuses('ingest')).toEqual([204]);
  });

  it('413: splits the request in halves and resends', async () => {
    fault({ match: { route: 'ingest' }, action: { status: 413 }, times: 1 });
    const { sink } = await start('li');
    const b = batch('Split_CL', lines(10, 'split'));
    await sink.write(b, AbortSignal.timeout(5_000));
    expect(await settled(b)).toBe('delivered');
    expect(statuses('ingest')).toEqual([413, 204, 204]);
    expect(rows('Split_CL')).toHaveLength(10);
  });

  it('a record too large: fields over 64 KB are truncated on a UTF-8 boundary, counted, and delivered', async () => {
    const { sink } = await start('li');
    const big = 'é'.repeat(600_000); // 1.2 MB of two-byte characters
    const b = batch('Big_CL', [{ TimeGenerated: new Date().toISOString(), RawData: big, Computer: 'host-1' }]);
    await sink.write(b, AbortSignal.timeout(5_000));
    expect(await settled(b)).toBe('delivered');
    const stored = rows('Big_CL')[0]!.RawData as string;
    expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(64 * 1024);
    expect(stored).toMatch(/^é+$/);
  });

  it('400: the batch goes to the dead-letter directory with the service error, never retried', async () => {
    const { sink, stateDir } = await start('li');
    const b = batch('Bad_CL', [{ TimeGenerated: 'not a date', RawData: 'x', Computer: 'host-1' }]);
    await sink.write(b, AbortSignal.timeout(5_000));
    expect(await settled(b)).toBe('rejected');
    expect(statuses('ingest')).toEqual([400]);
    const dl = join(stateDir, 'dead-letter');
    const files = readdirSync(dl);
    expect(files).toHaveLength(1);
    const text = readFileSync(join(dl, files[0]!), 'utf8');
    expect(text).toMatch(/TimeGenerated/);
    expect(text).toMatch(/not a date/);
  });

  it('401: refreshes the token once and resends', async () => {
    fault({ match: { route: 'ingest' }, action: { status: 401 }, times: 1 });
    const { sink } = await start('li');
    const b = batch('Auth_CL', lines(1, 'auth'));
    await sink.write(b, AbortSignal.timeout(5_000));
    expect(await settled(b)).toBe('delivered');
    expect(statuses('ingest')).toEqual([401, 204]);
    expect(statuses('token')).toEqual([200, 200]);
  });

  it('403: keeps the data, says the role is missing, delivers once allowed', async () => {
    fault({ match: { route: 'ingest' }, action: { status: 403 }, times: 2 });
    const { sink, logs } = await start('li');
    const b = batch('Role_CL', lines(2, 'role'));
    await sink.write(b, AbortSignal.timeout(5_000));
    expect(await settled(b)).toBe('delivered');
    expect(statuses('ingest')).toEqual([403, 403, 204]);
    const line = logs.find((l) => l.level === 50 && /Monitoring Metrics Publisher/.test(l.msg));
    expect(line, 'an error line naming the missing role').toBeDefined();
    expect(line!.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('404: an undeclared stream keeps the data unsettled and logs a configuration error', async () => {
    const { sink, logs } = await start('li', { streams: { Lost_CL: 'Custom-NotDeclared' } });
    const b = batch('Lost_CL', lines(1, 'lost'));
    await sink.write(b, AbortSignal.timeout(5_000));
    await vi.waitFor(() => expect(logs.some((l) => l.level === 50 && /does not exist \(404\)/.test(l.msg))).toBe(true), { timeout: 5_000 });
    expect(b.settlements).toEqual([]);
    expect(sink.healthcheck().healthy).toBe(false);
  });

  it('429 with retry-after-ms and 503 with Retry-After: no request before the delay asked for', async () => {
    fault({ match: { route: 'ingest' }, action: { status: 429, headers: { 'retry-after-ms': '400' } }, times: 1 });
    const { sink } = await start('li');
    const b = batch('Slow_CL', lines(1, 'slow'));
    await sink.write(b, AbortSignal.timeout(5_000));
    expect(await settled(b)).toBe('delivered');
    let sent = ws.requests.entries({ route: 'ingest' });
    expect(sent.map((r) => r.status)).toEqual([429, 204]);
    expect(Date.parse(sent[1]!.receivedAt) - Date.parse(sent[0]!.receivedAt)).toBeGreaterThanOrEqual(400);

    ws.requests.clear();
    fault({ match: { route: 'ingest' }, action: { status: 503, headers: { 'Retry-After': '1' } }, times: 1 });
    const b2 = batch('Slow_CL', lines(1, 'slower'));
    await sink.write(b2, AbortSignal.timeout(5_000));
    expect(await settled(b2)).toBe('delivered');
    sent = ws.requests.entries({ route: 'ingest' });
    expect(sent.map((r) => r.status)).toEqual([503, 204]);
    expect(Date.parse(sent[1]!.receivedAt) - Date.parse(sent[0]!.receivedAt)).toBeGreaterThanOrEqual(1_000);
  });

  it('408, 500, 502 and a reset connection: retried with backoff until delivered', async () => {
    fault({ match: { route: 'ingest' }, action: { status: 408 }, times: 1 });
    fault({ match: { route: 'ingest' }, action: { status: 500 }, times: 1 });
    fault({ match: { route: 'ingest' }, action: { status: 502 }, times: 1 });
    fault({ match: { route: 'ingest' }, action: { reset: true }, times: 1 });
    const { sink } = await start('li');
    const b = batch('Flaky_CL', lines(4, 'flaky'));
    await sink.write(b, AbortSignal.timeout(5_000));
    expect(await settled(b)).toBe('delivered');
    expect(statuses('ingest').filter((s) => s === 204)).toHaveLength(1);
    expect(statuses('ingest').length).toBeGreaterThanOrEqual(5);
    expect(rows('Flaky_CL')).toHaveLength(4);
  });
});

describe('Data Collector sink against the local workspace', () => {
  it('200: delivered, signed over the byte length of a non-ASCII body, stored with suffix columns', async () => {
    const { sink } = await start('dc');
    const b = batch('Legacy_CL', [{ TimeGenerated: new Date().toISOString(), RawData: 'café ü 日本 🚀', Computer: 'host-1' }], DC);
    await sink.write(b, AbortSignal.timeout(5_000));
    expect(await settled(b)).toBe('delivered');
    expect(statuses('data_collector')).toEqual([200]);
    expect(rows('Legacy_CL').map((r) => r.Message_s)).toEqual(['café ü 日本 🚀']);
  });

  it('403 from a wrong key: kept, and the log names a wrong key or clock skew', async () => {
    const { sink, logs } = await start('dc', { sharedKey: Buffer.alloc(64, 1).toString('base64') });
    const b = batch('Legacy_CL', lines(1, 'wrong-key'), DC);
    await sink.write(b, AbortSignal.timeout(5_000));
    await vi.waitFor(() => expect(logs.some((l) => l.level === 50 && /clock is skewed/.test(l.msg))).toBe(true), { timeout: 5_000 });
    expect(b.settlements).toEqual([]);
    expect(statuses('data_collector')[0]).toBe(403);
  });

  it('400 InvalidDataFormat: dead-lettered with the error code', async () => {
    fault({ match: { route: 'data_collector' }, action: { status: 400, body: { Error: 'InvalidDataFormat', Message: 'bad record' } }, times: 1 });
    const { sink, stateDir } = await start('dc');
    const b = batch('Legacy_CL', lines(1, 'rejected'), DC);
    await sink.write(b, AbortSignal.timeout(5_000));
    expect(await settled(b)).toBe('rejected');
    const dl = join(stateDir, 'dead-letter');
    expect(existsSync(dl) && readdirSync(dl).length).toBe(1);
    expect(readFileSync(join(dl, readdirSync(dl)[0]!), 'utf8')).toMatch(/InvalidDataFormat/);
  });

  it('404 on a request of several records (the service says so for a post too large): split and resent', async () => {
    fault({ match: { route: 'data_collector' }, action: { status: 404 }, times: 1 });
    const { sink } = await start('dc');
    const b = batch('Legacy_CL', lines(6, 'split'), DC);
    await sink.write(b, AbortSignal.timeout(5_000));
    expect(await settled(b)).toBe('delivered');
    expect(statuses('data_collector')).toEqual([404, 200, 200]);
  });

  it('429 with Retry-After, 500 and 503: retried until delivered, not before the delay asked for', async () => {
    fault({ match: { route: 'data_collector' }, action: { status: 429, headers: { 'Retry-After': '1' } }, times: 1 });
    fault({ match: { route: 'data_collector' }, action: { status: 500 }, times: 1 });
    fault({ match: { route: 'data_collector' }, action: { status: 503 }, times: 1 });
    const { sink } = await start('dc');
    const b = batch('Legacy_CL', lines(1, 'retried'), DC);
    await sink.write(b, AbortSignal.timeout(5_000));
    expect(await settled(b)).toBe('delivered');
    const sent = ws.requests.entries({ route: 'data_collector' });
    expect(sent.map((r) => r.status)).toEqual([429, 500, 503, 200]);
    expect(Date.parse(sent[1]!.receivedAt) - Date.parse(sent[0]!.receivedAt)).toBeGreaterThanOrEqual(1_000);
  });
});
