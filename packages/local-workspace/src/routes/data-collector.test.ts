import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { azureDataCollectorConfigSchema, azureDataCollectorSink, type Batch, type LogRecord, type Settlement, type Sink } from '@oma/core';
import { testComponentContext } from '@oma/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { queryWorkspace } from '../client.js';
import { LocalWorkspace } from '../workspace.js';
import { rawRequest, startWorkspace } from '../../test/helpers.js';

const WS = '6f1e2d3c-4b5a-4697-8877-665544332211';
const KEY = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 13 + 5) & 0xff)).toString('base64');

let ws: LocalWorkspace;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ ws, stop } = await startWorkspace({ dataCollector: { workspaceId: WS, sharedKey: KEY } }));
});
afterAll(async () => {
  await stop();
});
afterEach(() => {
  ws.faults.clear();
});

/** Signs like the service expects, written here on its own (bytes of the body, not characters). */
function sign(body: Buffer, date: string, key = KEY, workspace = WS): string {
  const text = `POST\n${body.length}\napplication/json\nx-ms-date:${date}\n/api/logs`;
  return `SharedKey ${workspace}:${createHmac('sha256', Buffer.from(key, 'base64')).update(text, 'utf8').digest('base64')}`;
}

interface PostOptions {
  logType?: string | null;
  headers?: Record<string, string | number>;
  date?: string;
  key?: string;
  workspace?: string;
  path?: string;
  /** Signs this length instead of the body's byte length. */
  signedLength?: number;
}

async function post(records: unknown, opts: PostOptions = {}): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  const body = Buffer.from(typeof records === 'string' ? records : JSON.stringify(records), 'utf8');
  const date = opts.date ?? new Date().toUTCString();
  const signed = opts.signedLength === undefined ? body : Buffer.alloc(opts.signedLength);
  const headers: Record<string, string | number> = {
    authorization: sign(signed, date, opts.key, opts.workspace),
    'content-type': 'application/json',
    'x-ms-date': date,
    ...(opts.logType === null ? {} : { 'log-type': opts.logType ?? 'DcTest' }),
    ...opts.headers,
  };
  const res = await rawRequest(`${ws.url}${opts.path ?? '/api/logs?api-version=2016-04-01'}`, { headers, body });
  return { status: res.status, body: res.text === '' ? undefined : (JSON.parse(res.text) as Record<string, unknown>) };
}

describe('HTTP Data Collector route', () => {
  it('stores rows in <LogType>_CL with type-suffixed columns', async () => {
    const now = Date.now();
    const recent = new Date(now - 3_600_000).toISOString();
    const res = await post(
      [
        { Name: 'a', Count: 3, Ok: true, When: recent, Id: '0B8C4F5E12344ABC9DEF0123456789AB', Missing: null },
        { Name: 'b', Count: 4.5, When: '2020-01-01T00:00:00Z' },
      ],
      { logType: 'Typed', headers: { 'time-generated-field': 'When' } },
    );
    expect(res).toEqual({ status: 200, body: undefined });
    const q = await queryWorkspace(ws, { table: 'Typed_CL', order: 'asc' });
    const cols = Object.fromEntries(q.columns.map((c) => [c.name, c.type]));
    expect(cols).toMatchObject({ Name_s: 'string', Count_d: 'real', Ok_b: 'boolean', When_t: 'datetime', Id_g: 'string', SourceSystem: 'string' });
    expect(cols).not.toHaveProperty('Missing_s');
    expect(q.rows[0]).toMatchObject({
      Name_s: 'a',
      Count_d: 3,
      Ok_b: true,
      When_t: recent,
      Id_g: '0b8c4f5e-1234-4abc-9def-0123456789ab',
      SourceSystem: 'RestAPI',
      TimeGenerated: recent,
    });
    // Older than 2 days: TimeGenerated is the receive time, the property keeps its value.
    expect(q.rows[1]).toMatchObject({ Name_s: 'b', Count_d: 4.5, Ok_b: null, When_t: '2020-01-01T00:00:00.000Z' });
    expect(Date.parse(q.rows[1]!.TimeGenerated as string)).toBeGreaterThanOrEqual(now - 60_000);
    expect(ws.requests.entries({ route: 'data_collector' }).at(-1)).toMatchObject({ status: 200, stream: 'Typed', records: 2 });
  });

  it("accepts Fluent Bit's default time key @timestamp as time-generated-field, stored as timestamp_t", async () => {
    const recent = new Date(Date.now() - 60_000).toISOString();
    const res = await post([{ '@timestamp': recent, log: 'line', 'kubernetes.pod': 'p1' }], { logType: 'FluentBit', headers: { 'time-generated-field': '@timestamp' } });
    expect(res).toEqual({ status: 200, body: undefined });
    const q = await queryWorkspace(ws, { table: 'FluentBit_CL' });
    expect(q.rows[0]).toMatchObject({ timestamp_t: recent, log_s: 'line', kubernetespod_s: 'p1', TimeGenerated: recent });
  });

  it('adds columns as new properties and new types appear', async () => {
    expect((await post([{ A: 'x' }], { logType: 'Grow' })).status).toBe(200);
    expect((await post([{ A: 1, B: false }], { logType: 'Grow' })).status).toBe(200);
    const q = await queryWorkspace(ws, { table: 'Grow_CL', order: 'asc' });
    expect(q.columns.map((c) => c.name)).toEqual(expect.arrayContaining(['A_s', 'A_d', 'B_b']));
    expect(q.rows.map((r) => [r.A_s, r.A_d, r.B_b])).toEqual([
      ['x', null, null],
      [null, 1, false],
    ]);
  });

  it('verifies the signature over the byte length of a non-ASCII body', async () => {
    const records = [{ Text: 'café ü 日本 🚀' }];
    const bytes = Buffer.byteLength(JSON.stringify(records));
    const chars = JSON.stringify(records).length;
    expect(bytes).not.toBe(chars);
    expect(await post(records, { logType: 'Utf8', signedLength: chars })).toMatchObject({ status: 403, body: { Error: 'InvalidAuthorization' } });
    expect((await post(records, { logType: 'Utf8' })).status).toBe(200);
    const q = await queryWorkspace(ws, { table: 'Utf8_CL' });
    expect(q.rows).toHaveLength(1);
    expect(q.rows[0]!.Text_s).toBe('café ü 日本 🚀');
  });

  it.each([
    ['no api-version', { path: '/api/logs' }, 400, 'MissingApiVersion'],
    ['another api-version', { path: '/api/logs?api-version=2023-01-01' }, 400, 'InvalidApiVersion'],
    ['no content type', { headers: { 'content-type': '' } }, 400, 'MissingContentType'],
    ['a text body', { headers: { 'content-type': 'text/plain' } }, 400, 'UnsupportedContentType'],
    ['no Log-Type', { logType: null }, 400, 'MissingLogType'],
    ['an invalid Log-Type', { logType: 'Bad-Type' }, 400, 'InvalidLogType'],
    ['another workspace', { workspace: '00000000-0000-0000-0000-000000000001' }, 400, 'InvalidCustomerId'],
    ['a wrong key', { key: Buffer.alloc(64, 1).toString('base64') }, 403, 'InvalidAuthorization'],
    ['a stale x-ms-date', { date: new Date(Date.now() - 16 * 60_000).toUTCString() }, 403, 'InvalidAuthorization'],
    ['an ISO x-ms-date', { date: new Date().toISOString() }, 403, 'InvalidAuthorization'],
    ['a bearer token', { headers: { authorization: 'Bearer abc' } }, 403, 'InvalidAuthorization'],
    ['another host workspace', { headers: { host: '00000000-0000-0000-0000-000000000002.ods.opinsights.azure.com' } }, 403, 'InvalidAuthorization'],
  ])('refuses %s', async (_what, opts: PostOptions, status, code) => {
    const res = await post([{ A: 1 }], { logType: 'Refused', ...opts });
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ Error: code, Message: expect.any(String) as string });
    expect(ws.store.count('Refused_CL')).toBe(0);
  });

  it('accepts the host-name form of the workspace', async () => {
    const res = await post([{ A: 1 }], { logType: 'HostForm', headers: { host: `${WS}.ods.opinsights.azure.us` } });
    expect(res.status).toBe(200);
  });

  it.each([
    ['not JSON', '[{'],
    ['not an array', { A: 1 }],
    ['a nested object', [{ A: { b: 1 } }]],
    ['an array element that is no object', [1]],
    ['a reserved property', [{ RawData: 'x' }]],
    ['a property too long for a column', [{ [`P${'x'.repeat(50)}`]: 'v' }]],
    ['a property with no letter', [{ '@1': 'v' }]],
    ['two properties that become the same column', [{ 'a.b': 'v', ab: 'w' }]],
  ])('answers 400 InvalidDataFormat for %s', async (_what, records) => {
    const res = await post(records, { logType: 'BadData' });
    expect(res).toMatchObject({ status: 400, body: { Error: 'InvalidDataFormat' } });
  });

  it('answers 404 to a body over 30 MB, as the service does', async () => {
    const date = new Date().toUTCString();
    const res = await rawRequest(`${ws.url}/api/logs?api-version=2016-04-01`, {
      headers: {
        authorization: sign(Buffer.alloc(0), date),
        'content-type': 'application/json',
        'log-type': 'Huge',
        'x-ms-date': date,
        'content-length': 30_000_001,
      },
      body: Buffer.from('[]'),
    }).catch((err: unknown) => ({ status: -1, text: String(err) }));
    expect(res.status).toBe(404);
  });

  it('applies faults of route data_collector, by Log-Type, and stores nothing', async () => {
    ws.faults.failNext('data_collector', 429, { stream: 'Faulty', headers: { 'retry-after': '1' } });
    const res = await post([{ A: 1 }], { logType: 'Faulty' });
    expect(res.status).toBe(429);
    expect(ws.store.count('Faulty_CL')).toBe(0);
    expect((await post([{ A: 1 }], { logType: 'Faulty' })).status).toBe(200);
  });

  it('is off unless configured', async () => {
    const other = await startWorkspace();
    try {
      const date = new Date().toUTCString();
      const res = await rawRequest(`${other.ws.url}/api/logs?api-version=2016-04-01`, {
        headers: { authorization: sign(Buffer.from('[]'), date), 'content-type': 'application/json', 'log-type': 'X', 'x-ms-date': date },
        body: Buffer.from('[]'),
      });
      expect(res.status).toBe(404);
    } finally {
      await other.stop();
    }
  });

  it('refuses invalid dataCollector options', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oma-dc-opt-'));
    try {
      await expect(
        LocalWorkspace.start({ dataDir: dir, dataCollector: { workspaceId: 'nope', sharedKey: 'not base64!', maxSkewSec: -1 } }),
      ).rejects.toMatchObject({
        issues: [
          { path: 'dataCollector.workspaceId' },
          { path: 'dataCollector.sharedKey' },
          { path: 'dataCollector.maxSkewSec' },
        ],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('azure_data_collector sink against the local workspace', () => {
  interface TestBatch extends Batch {
    readonly settlements: Settlement[];
  }
  /** A batch as the sink reads it from its queue: in the Data Collector wire format (default property names). */
  function batch(table: string, records: LogRecord[]): TestBatch {
    const settlements: Settlement[] = [];
    const format = azureDataCollectorSink.format!(azureDataCollectorConfigSchema.parse({ endpoint: 'https://x.example', workspaceId: WS, sharedKey: KEY }));
    return { ...format.encodeRecords(table, records).batch, ack: { settle: (o) => settlements.push(o) }, settlements };
  }
  const sinks: Sink[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const s of sinks.splice(0)) await s.stop(AbortSignal.timeout(200));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function sink(config: Record<string, unknown> = {}): Promise<{ sink: Sink; logs: Array<Record<string, unknown>> }> {
    const stateDir = mkdtempSync(join(tmpdir(), 'oma-dc-sink-'));
    dirs.push(stateDir);
    const logs: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    const ctx = testComponentContext({ id: 'dc', type: 'azure_data_collector', stateDir, log });
    const parsed = azureDataCollectorConfigSchema.parse({
      workspaceId: WS,
      sharedKey: KEY,
      endpoint: ws.url,
      flushIntervalMs: 0,
      retry: { initialDelayMs: 10, maxDelayMs: 20 },
      ...config,
    });
    const s = azureDataCollectorSink.create(parsed, ctx);
    await s.start();
    sinks.push(s);
    return { sink: s, logs };
  }

  it('delivers non-ASCII records end to end; rows are queryable with suffix columns', async () => {
    const { sink: s } = await sink();
    const t = new Date(Date.now() - 60_000).toISOString();
    const b = batch('E2eApp_CL', [
      { TimeGenerated: t, RawData: 'café ü 日本 🚀', Computer: 'host-1', Level: 4, Ok: true, Extra: { k: 'v' } },
      { TimeGenerated: t, RawData: 'second', Computer: 'host-1' },
    ]);
    await s.write(b, new AbortController().signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    const q = await queryWorkspace(ws, { table: 'E2eApp_CL', order: 'asc' });
    expect(q.rows).toHaveLength(2);
    expect(q.rows[0]).toMatchObject({
      TimeGenerated: t,
      Timestamp_t: t,
      Message_s: 'café ü 日本 🚀',
      Computer_s: 'host-1',
      Level_d: 4,
      Ok_b: true,
      Extra_s: '{"k":"v"}',
      SourceSystem: 'RestAPI',
    });
    expect(s.healthcheck()).toEqual({ healthy: true });
  });

  it('keeps the records and reports the key problem when the workspace refuses the signature', async () => {
    const { sink: s, logs } = await sink({ sharedKey: Buffer.alloc(64, 9).toString('base64') });
    const b = batch('E2eWrongKey_CL', [{ RawData: 'x' }]);
    await s.write(b, new AbortController().signal);
    await vi.waitFor(() => expect(s.healthcheck().healthy).toBe(false));
    expect(s.healthcheck().detail).toMatch(/HTTP 403 InvalidAuthorization: the workspace id or shared key is wrong, or the clock is skewed/);
    expect(logs.find((l) => l.status === 403)).toMatchObject({ level: 50, localTime: expect.any(String) as string });
    expect(b.settlements).toEqual([]);
    expect(ws.store.count('E2eWrongKey_CL')).toBe(0);
  });

  it('retries after an injected 503 and delivers once', async () => {
    ws.faults.failNext('data_collector', 503, { stream: 'E2eRetry' });
    const { sink: s } = await sink();
    const b = batch('E2eRetry_CL', [{ RawData: 'once' }]);
    await s.write(b, new AbortController().signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(ws.requests.entries({ route: 'data_collector', stream: 'E2eRetry' }).map((e) => e.status)).toEqual([503, 200]);
    expect(ws.store.count('E2eRetry_CL')).toBe(1);
  });
});
