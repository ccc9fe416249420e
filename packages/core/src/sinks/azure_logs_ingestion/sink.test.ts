import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LogRecord } from '../../model/record.js';
import type { Batch } from '../../pipeline/batch.js';
import type { ComponentContext, Sink } from '../../pipeline/component.js';
import type { Clock } from '../../ports/clock.js';
import { FakeClock } from '../../testing/fake-clock.js';
import { seededRandom } from '../../testing/prng.js';
import { testComponentContext } from '../../testing/context.js';
import { Cleanups, captureLogs, isPending, LoopbackService, tempStateDir, testBatch as batch, recordsOf, type LogLine, type TestBatch } from '../shared/testing.js';
import { azureLogsIngestionConfigSchema } from './config.js';
import { azureLogsIngestionSink } from './sink.js';

const DCR = 'dcr-0123456789abcdef0123456789abcdef';
const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const SECRET = 'do-not-log-this-secret';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// ---- a fake Entra token endpoint + Logs Ingestion API -------------------------------------------

interface Ingest {
  readonly n: number;
  readonly url: string;
  readonly stream: string;
  readonly headers: IncomingHttpHeaders;
  readonly records: LogRecord[];
  /** Bytes of the JSON array (after gunzip). */
  readonly jsonBytes: number;
  readonly wireBytes: number;
}

type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'reset';
type TokenReply = { status: number; body: unknown };

class FakeAzure extends LoopbackService {
  readonly tokenCalls: URLSearchParams[] = [];
  readonly ingests: Ingest[] = [];
  /** Requests answered 2xx. */
  readonly accepted: Ingest[] = [];
  active = 0;
  maxActive = 0;
  answered = 0;
  tokenReply: (n: number) => TokenReply = (n) => ({ status: 200, body: { token_type: 'Bearer', expires_in: 3600, access_token: `tok-${n}` } });
  reply: (req: Ingest) => Reply = () => ({ status: 204 });

  static start(): Promise<FakeAzure> {
    return new FakeAzure().listen();
  }

  acceptedRecords(stream?: string): LogRecord[] {
    return this.accepted.filter((i) => stream === undefined || i.stream === stream).flatMap((i) => i.records);
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const url = req.url ?? '';
    if (url === `/${TENANT}/oauth2/v2.0/token`) {
      this.tokenCalls.push(new URLSearchParams(body.toString('utf8')));
      const r = this.tokenReply(this.tokenCalls.length);
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r.body));
      return;
    }
    const m = /^\/dataCollectionRules\/([^/]+)\/streams\/([^/?]+)\?api-version=2023-01-01$/.exec(url);
    if (req.method !== 'POST' || !m || m[1] !== DCR) {
      res.writeHead(404).end();
      return;
    }
    const json = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
    const ingest: Ingest = {
      n: this.ingests.length + 1,
      url,
      stream: decodeURIComponent(m[2]!),
      headers: req.headers,
      records: JSON.parse(json.toString('utf8')) as LogRecord[],
      jsonBytes: json.length,
      wireBytes: body.length,
    };
    this.ingests.push(ingest);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.passGate();
      const reply = this.reply(ingest);
      if (reply === 'reset') {
        req.socket.resetAndDestroy();
        return;
      }
      if (reply.status >= 200 && reply.status <= 299) this.accepted.push(ingest);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    } finally {
      this.active--;
      this.answered++;
    }
  }
}

// ---- helpers ------------------------------------------------------------------------------------

/** Lets pending work run: for checks that something did not happen. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 100));

function rec(i: number, padBytes = 0): LogRecord {
  return { TimeGenerated: '2026-01-01T00:00:00.000Z', Seq: i, RawData: 'x'.repeat(padBytes) };
}

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

interface Harness {
  fake: FakeAzure;
  sink: Sink;
  ctx: ComponentContext;
  stateDir: string;
  logs: LogLine[];
  signal: AbortSignal;
}

async function setup(opts: { clock?: Clock; config?: Record<string, unknown>; fake?: FakeAzure } = {}): Promise<Harness> {
  const fake = opts.fake ?? (await FakeAzure.start());
  cleanups.push(() => fake.close());
  const stateDir = tempStateDir('oma-ali-', cleanups);
  const { log, lines: logs } = captureLogs();
  const ctx = testComponentContext({
    id: 'la',
    type: 'azure_logs_ingestion',
    stateDir,
    log,
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const config = azureLogsIngestionConfigSchema.parse({
    endpoint: fake.url,
    dcrImmutableId: DCR,
    auth: { type: 'client_secret', tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET, authorityHost: fake.url },
    flushIntervalMs: 0,
    retry: { initialDelayMs: 5, maxDelayMs: 20 },
    ...opts.config,
  });
  const sink = azureLogsIngestionSink.create(config, ctx);
  await sink.start();
  cleanups.push(() => sink.stop(AbortSignal.abort()));
  return { fake, sink, ctx, stateDir, logs, signal: new AbortController().signal };
}

// ---- tests --------------------------------------------------------------------------------------

describe('azure_logs_ingestion sink', () => {
  it('sends the documented request shape and settles the batch delivered', async () => {
    const h = await setup();
    const b = batch('App_CL', [rec(1), rec(2)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));

    expect(h.fake.ingests).toHaveLength(1);
    const req = h.fake.ingests[0]!;
    expect(req.url).toBe(`/dataCollectionRules/${DCR}/streams/Custom-App_CL?api-version=2023-01-01`);
    expect(req.headers.authorization).toBe('Bearer tok-1');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['content-encoding']).toBe('gzip');
    expect(req.headers['x-ms-client-request-id']).toMatch(UUID_RE);
    expect(req.headers['user-agent']).toBe('OMA/0.0.0-test (Linux; Test Linux)');
    expect(req.records).toEqual([rec(1), rec(2)]);

    expect(Object.fromEntries(h.fake.tokenCalls[0]!)).toEqual({
      grant_type: 'client_credentials',
      client_id: CLIENT,
      client_secret: SECRET,
      scope: 'https://monitor.azure.com//.default',
    });
    const labels = h.ctx.labels;
    expect(h.ctx.metrics.recordsOut.get({ ...labels, table: 'App_CL' })).toBe(2);
    expect(h.ctx.metrics.httpResponses.get({ ...labels, status: '204' })).toBe(1);
    expect(h.sink.healthcheck()).toEqual({ healthy: true });
  });

  it('sends uncompressed JSON when compression is none, to a configured stream', async () => {
    const h = await setup({ config: { compression: 'none', streams: { Syslog: 'Microsoft-Syslog' } } });
    const b = batch('Syslog', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    const req = h.fake.ingests[0]!;
    expect(req.stream).toBe('Microsoft-Syslog');
    expect(req.headers['content-encoding']).toBeUndefined();
    expect(req.wireBytes).toBe(req.jsonBytes);
  });

  it('fetches the token once and shares it between concurrent requests', async () => {
    const h = await setup({ config: { maxConcurrency: 4 } });
    const batches = ['A_CL', 'B_CL', 'C_CL', 'D_CL'].map((t) => batch(t, [rec(1)]));
    for (const b of batches) await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(batches.every((b) => b.settlements[0] === 'delivered')).toBe(true));
    const later = batch('A_CL', [rec(2)]);
    await h.sink.write(later, h.signal);
    await vi.waitFor(() => expect(later.settlements).toEqual(['delivered']));
    expect(h.fake.tokenCalls).toHaveLength(1);
    expect(new Set(h.fake.ingests.map((i) => i.headers.authorization))).toEqual(new Set(['Bearer tok-1']));
  });

  it('refreshes the token 5 minutes before it expires', async () => {
    const clock = new FakeClock();
    const h = await setup({ clock });
    const first = batch('App_CL', [rec(1)]);
    await h.sink.write(first, h.signal);
    await vi.waitFor(() => expect(first.settlements).toEqual(['delivered']));
    await clock.advance(3_299_000);
    const second = batch('App_CL', [rec(2)]);
    await h.sink.write(second, h.signal);
    await vi.waitFor(() => expect(second.settlements).toEqual(['delivered']));
    expect(h.fake.tokenCalls).toHaveLength(1);
    await clock.advance(1_000);
    const third = batch('App_CL', [rec(3)]);
    await h.sink.write(third, h.signal);
    await vi.waitFor(() => expect(third.settlements).toEqual(['delivered']));
    expect(h.fake.tokenCalls).toHaveLength(2);
    expect(h.fake.ingests.map((i) => i.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2']);
  });

  it('gets a new token and retries at once on 401', async () => {
    const h = await setup();
    h.fake.reply = (r) => (r.n === 1 ? { status: 401, body: '{"error":{"code":"InvalidToken"}}' } : { status: 204 });
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(h.fake.tokenCalls).toHaveLength(2);
    expect(h.fake.ingests.map((i) => i.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    expect(h.ctx.metrics.retries.sum(h.ctx.labels)).toBe(1);
  });

  it('backs off after a second 401 in a row', async () => {
    const clock = new FakeClock();
    const h = await setup({ clock, config: { retry: { initialDelayMs: 1000, maxDelayMs: 1000 } } });
    h.fake.reply = (r) => (r.n <= 2 ? { status: 401 } : { status: 204 });
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    expect(h.fake.ingests).toHaveLength(2);
    expect(h.sink.healthcheck().healthy).toBe(false);
    await clock.advance(1000);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(h.fake.ingests.map((i) => i.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2', 'Bearer tok-3']);
    expect(h.sink.healthcheck().healthy).toBe(true);
  });

  it('coalesces many small batches into few requests of at most 1,000,000 JSON bytes', async () => {
    const clock = new FakeClock();
    const h = await setup({ clock, config: { flushIntervalMs: 1000, maxRequestBytes: 1_000_000 } });
    const batches: TestBatch[] = [];
    for (let i = 0; i < 2000; i++) {
      const b = batch('App_CL', [rec(i, 1000)]);
      batches.push(b);
      await h.sink.write(b, h.signal);
    }
    // Two full requests go at once; the rest waits for the flush interval.
    await vi.waitFor(() => expect(h.fake.accepted).toHaveLength(2));
    expect(batches.filter((b) => b.settlements.length === 0).length).toBeGreaterThan(0);
    await clock.advance(1000);
    await vi.waitFor(() => expect(batches.every((b) => b.settlements[0] === 'delivered')).toBe(true));
    expect(h.fake.ingests).toHaveLength(3);
    for (const i of h.fake.ingests) expect(i.jsonBytes).toBeLessThanOrEqual(1_000_000);
    expect(h.fake.ingests[0]!.jsonBytes).toBeGreaterThan(990_000);
    // Every record once. The two full requests are in flight together, so the service may take them in
    // either order.
    expect(h.fake.acceptedRecords().map((r) => r.Seq as number).sort((a, b) => a - b)).toEqual(batches.map((_, i) => i));
    expect(batches.every((b) => b.settlements.length === 1)).toBe(true);
  });

  it('sends what is pending once its queue stayed drained: all of it once per flush interval, else only a request of at least 1 MB', async () => {
    const clock = new FakeClock();
    const h = await setup({ clock, config: { flushIntervalMs: 60_000 } });
    const first = batch('App_CL', [rec(1, 100)]);
    await h.sink.write(first, h.signal);
    h.sink.drained?.();
    await settle();
    expect(h.fake.ingests).toHaveLength(0); // not before the queue stayed drained a moment
    await clock.advance(50);
    await vi.waitFor(() => expect(first.settlements).toEqual(['delivered'])); // the end of a burst goes at once
    const small = batch('App_CL', [rec(2, 100)]);
    await h.sink.write(small, h.signal);
    h.sink.drained?.();
    await clock.advance(50);
    await settle();
    expect(h.fake.ingests).toHaveLength(1); // a trickle: one unfilled request per flush interval
    const big = batch('App_CL', Array.from({ length: 1100 }, (_, i) => rec(i + 3, 1000)));
    await h.sink.write(big, h.signal);
    await settle();
    expect(h.fake.ingests).toHaveLength(1); // more may come: it waits to fill a request
    h.sink.drained?.();
    await clock.advance(50);
    await vi.waitFor(() => expect([small.settlements, big.settlements]).toEqual([['delivered'], ['delivered']]));
    expect(h.fake.ingests).toHaveLength(2);
    expect(h.fake.ingests[1]!.jsonBytes).toBeGreaterThan(1_000_000);
  });

  it('packs a request until its compressed body nears 1 MiB, never over it, and learns the compression ratio', async () => {
    const h = await setup({ config: { maxConcurrency: 1, flushIntervalMs: 10 } });
    const random = seededRandom(7);
    // Hex text compresses to a bit over half: the first request, cut for the assumed 4:1, is too large
    // on the wire and is split before it is sent; the next ones are cut to fit.
    const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
    const batches = Array.from({ length: 10 }, (_, b) => batch('App_CL', Array.from({ length: 500 }, (_, i) => ({ Seq: b * 500 + i, RawData: hex(1000) }))));
    for (const b of batches) await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(batches.every((b) => b.settlements[0] === 'delivered')).toBe(true), { timeout: 20_000 });
    for (const i of h.fake.ingests) expect(i.wireBytes).toBeLessThanOrEqual(1_048_576);
    expect(Math.max(...h.fake.ingests.map((i) => i.wireBytes))).toBeGreaterThan(700_000);
    expect(h.ctx.metrics.requestsSplit.get({ ...h.ctx.labels, reason: 'wire_size' })).toBeGreaterThanOrEqual(1);
    expect(h.fake.acceptedRecords().map((r) => r.Seq)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('spreads a big batch over several requests and settles it once all are delivered', async () => {
    const h = await setup({ config: { maxRequestBytes: 1_000_000 } });
    h.fake.reply = (r) => (r.n === 2 ? { status: 500 } : { status: 204 });
    const records = Array.from({ length: 2500 }, (_, i) => rec(i, 1000));
    const b = batch('App_CL', records);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(h.fake.answered).toBeGreaterThanOrEqual(2));
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(h.fake.accepted.length).toBe(3);
    for (const i of h.fake.ingests) expect(i.jsonBytes).toBeLessThanOrEqual(1_000_000);
    const seqs = h.fake.acceptedRecords().map((r) => r.Seq as number);
    expect(seqs.sort((x, y) => x - y)).toEqual(records.map((_, i) => i));
  });

  it('does not settle a batch while a part of it is still in flight', async () => {
    const h = await setup({ config: { maxConcurrency: 1, maxRequestBytes: 10_000 } });
    const b = batch('App_CL', Array.from({ length: 30 }, (_, i) => rec(i, 900)));
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(h.fake.accepted.length).toBeGreaterThanOrEqual(1));
    h.fake.hold();
    await vi.waitFor(() => expect(h.fake.active).toBe(1));
    expect(b.settlements).toEqual([]);
    h.fake.release();
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(h.fake.acceptedRecords().map((r) => r.Seq)).toEqual(recordsOf(b).map((r) => r.Seq));
  });

  it('splits a request in halves on 413 and keeps the order', async () => {
    const h = await setup({ config: { maxConcurrency: 1 } });
    h.fake.reply = (r) => (r.records.length > 2 ? { status: 413, body: '{"error":{"code":"ContentLengthLimitExceeded"}}' } : { status: 204 });
    const b = batch('App_CL', Array.from({ length: 9 }, (_, i) => rec(i)));
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(h.fake.acceptedRecords().map((r) => r.Seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(h.fake.ingests.map((i) => i.records.length)).toEqual([9, 5, 3, 2, 1, 2, 4, 2, 2]);
    expect(h.ctx.metrics.httpResponses.get({ ...h.ctx.labels, status: '413' })).toBe(4);
  });

  it('after a 413, cuts every later request to at most half of the refused one, and says so once', async () => {
    const h = await setup({ config: { maxConcurrency: 1, flushIntervalMs: 10 } });
    h.fake.reply = (r) => (r.jsonBytes > 5000 ? { status: 413, body: '{"error":{"code":"ContentLengthLimitExceeded"}}' } : { status: 204 });
    const first = batch('App_CL', Array.from({ length: 30 }, (_, i) => rec(i, 1000)));
    await h.sink.write(first, h.signal);
    await vi.waitFor(() => expect(first.settlements).toEqual(['delivered']));
    const refused = h.ctx.metrics.httpResponses.get({ ...h.ctx.labels, status: '413' });
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(refused).toBeLessThanOrEqual(3); // 30 KB, then at most 15 KB and 7.5 KB: never the same size twice
    const later = Array.from({ length: 5 }, (_, b) => batch('App_CL', Array.from({ length: 30 }, (_, i) => rec(30 + b * 30 + i, 1000))));
    for (const b of later) await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(later.every((b) => b.settlements[0] === 'delivered')).toBe(true));
    expect(h.ctx.metrics.httpResponses.get({ ...h.ctx.labels, status: '413' })).toBe(refused); // remembered
    expect(h.fake.acceptedRecords().map((r) => r.Seq)).toEqual(Array.from({ length: 180 }, (_, i) => i));
    expect(h.logs.filter((l) => /refused a request as too large/.test(l.msg))).toHaveLength(1);
    expect(h.ctx.metrics.requestsSplit.get({ ...h.ctx.labels, reason: 'service_413' })).toBe(refused);
  });

  it('truncates the long fields of a single record the service refuses as too large, on a UTF-8 boundary', async () => {
    const h = await setup();
    // Queued uncut (the pipeline's encoder cuts fields; an entry of an older version did not).
    const json = JSON.stringify({ Seq: 1, RawData: 'é'.repeat(700_000), Computer: 'host' });
    const settlements: string[] = [];
    const b = { table: 'App_CL', count: 1, data: Buffer.from(json), ends: new Uint32Array([Buffer.byteLength(json)]), ack: { settle: (o: string) => settlements.push(o) }, settlements };
    h.fake.reply = (r) => (r.jsonBytes > 1_000_000 ? { status: 413 } : { status: 204 });
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    const sent = h.fake.acceptedRecords()[0]!;
    expect(Buffer.byteLength(sent.RawData as string)).toBe(65_536);
    expect(sent.RawData).toBe('é'.repeat(32_768));
    expect(sent.Computer).toBe('host');
    expect(h.ctx.metrics.recordsDropped.get({ ...h.ctx.labels, table: 'App_CL', reason: 'field_truncated' })).toBe(1);
  });

  it('dead-letters a record that stays too large after truncation', async () => {
    const h = await setup();
    const big: LogRecord = { Seq: 1 };
    for (let i = 0; i < 20; i++) big[`F${i}`] = 'y'.repeat(60_000);
    h.fake.reply = (r) => (r.jsonBytes > 1_000_000 ? { status: 413 } : { status: 204 });
    const b = batch('App_CL', [big, rec(2)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['rejected']));
    expect(h.fake.acceptedRecords().map((r) => r.Seq)).toEqual([2]);
    expect(h.ctx.metrics.recordsDropped.get({ ...h.ctx.labels, table: 'App_CL', reason: 'record_too_large' })).toBe(1);
    const files = readdirSync(join(h.stateDir, 'dead-letter'));
    expect(files).toHaveLength(1);
    const doc = JSON.parse(readFileSync(join(h.stateDir, 'dead-letter', files[0]!), 'utf8')) as { reason: string; records: LogRecord[] };
    expect(doc.reason).toBe('record_too_large');
    expect(doc.records[0]!.Seq).toBe(1);
  });

  it('dead-letters records rejected with 400 and settles the batch rejected, without retrying', async () => {
    const h = await setup();
    const error = { error: { code: 'InvalidContentType', message: 'Record at index 0 does not match the stream schema' } };
    h.fake.reply = () => ({ status: 400, body: JSON.stringify(error) });
    const b = batch('App_CL', [rec(1), rec(2)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['rejected']));
    expect(h.fake.ingests).toHaveLength(1);
    const requestId = h.fake.ingests[0]!.headers['x-ms-client-request-id'];
    const dir = join(h.stateDir, 'dead-letter');
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const doc = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as Record<string, unknown>;
    expect(doc).toMatchObject({ table: 'App_CL', stream: 'Custom-App_CL', reason: 'rejected_400', status: 400, requestId, error });
    expect(doc.records).toEqual([rec(1), rec(2)]);
    expect(h.ctx.metrics.recordsDropped.get({ ...h.ctx.labels, table: 'App_CL', reason: 'rejected_400' })).toBe(2);
    const line = h.logs.find((l) => l.reason === 'rejected_400');
    expect(line).toMatchObject({ level: 50, requestId, count: 2 });
    expect(String(line?.error)).toContain('InvalidContentType');
    expect(h.sink.healthcheck().healthy).toBe(true);
  });

  it.each([
    [403, /Monitoring Metrics Publisher/],
    [404, /dcrImmutableId/],
  ])('keeps the data and backs off at least 60 s on %i', async (status, cause) => {
    const clock = new FakeClock();
    const h = await setup({ clock, config: { retry: { initialDelayMs: 1000, maxDelayMs: 300_000 } } });
    h.fake.reply = (r) => (r.n === 1 ? { status, body: '{"error":{"code":"OperationFailed"}}' } : { status: 204 });
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(h.sink.healthcheck().healthy).toBe(false));
    expect(h.sink.healthcheck().detail).toMatch(cause);
    expect(h.logs.find((l) => l.status === status)).toMatchObject({ level: 50, msg: expect.stringMatching(cause) as string });
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    await clock.advance(59_999);
    expect(clock.pendingSleeps).toBe(1);
    expect(h.fake.ingests).toHaveLength(1);
    expect(b.settlements).toEqual([]);
    await clock.advance(1);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(h.sink.healthcheck()).toEqual({ healthy: true });
  });

  it('waits the Retry-After of a 429 before sending anything to the DCR again', async () => {
    const clock = new FakeClock();
    const h = await setup({ clock });
    h.fake.reply = (r) => (r.n === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 204 });
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    // Another table waits too: throttling applies to the whole rule.
    const other = batch('Other_CL', [rec(2)]);
    await h.sink.write(other, h.signal);
    await clock.advance(1999);
    expect(h.fake.ingests).toHaveLength(1);
    expect(clock.pendingSleeps).toBe(1);
    await clock.advance(1);
    await vi.waitFor(() => expect([b.settlements, other.settlements]).toEqual([['delivered'], ['delivered']]));
    expect(h.fake.ingests).toHaveLength(3);
  });

  it.each([
    [{ 'retry-after-ms': '1500', 'retry-after': '10' }, 1500],
    [{ 'x-ms-retry-after-ms': '700', 'retry-after': '10' }, 700],
    [{ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }, 3000],
  ])('honours the server delay %j of a 503', async (headers, delay) => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const h = await setup({ clock });
    h.fake.reply = (r) => (r.n === 1 ? { status: 503, headers } : { status: 204 });
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    await clock.advance(delay - 1);
    expect(h.fake.ingests).toHaveLength(1);
    await clock.advance(1);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
  });

  it('retries 500, 503 and connection resets with backoff', async () => {
    const h = await setup();
    const script: Reply[] = [{ status: 500 }, { status: 503 }, 'reset', { status: 502 }];
    h.fake.reply = (r) => script[r.n - 1] ?? { status: 204 };
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(h.fake.ingests).toHaveLength(5);
    expect(h.ctx.metrics.retries.sum(h.ctx.labels)).toBe(4);
    for (const s of ['500', '503', '502', '204']) expect(h.ctx.metrics.httpResponses.get({ ...h.ctx.labels, status: s })).toBe(1);
    const ids = new Set(h.fake.ingests.map((i) => i.headers['x-ms-client-request-id']));
    expect(ids.size).toBe(5);
    const warn = h.logs.filter((l) => l.level === 40 && l.msg === 'logs ingestion request failed; retrying');
    expect(warn.length).toBeGreaterThan(0);
    expect(warn.every((l) => typeof l.requestId === 'string')).toBe(true);
  });

  it('keeps retrying while the endpoint is unreachable and reports unhealthy', async () => {
    const fake = await FakeAzure.start();
    const h = await setup({ fake, config: { endpoint: 'http://127.0.0.1:1' } });
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(h.ctx.metrics.retries.sum(h.ctx.labels)).toBeGreaterThanOrEqual(2));
    expect(h.sink.healthcheck()).toMatchObject({ healthy: false, detail: expect.stringMatching(/cannot reach/) as string });
    expect(b.settlements).toEqual([]);
    const line = h.logs.find((l) => l.cause === 'network');
    expect((line?.err as { message?: string } | undefined)?.message).toMatch(/ECONNREFUSED/);
  });

  it('retries token endpoint failures, logging the AADSTS text but never the secret', async () => {
    const h = await setup();
    h.fake.tokenReply = (n) =>
      n === 1
        ? { status: 401, body: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.', error_codes: [7000215] } }
        : { status: 200, body: { access_token: 'tok-ok', expires_in: 3600 } };
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(h.fake.ingests.map((i) => i.headers.authorization)).toEqual(['Bearer tok-ok']);
    const line = h.logs.find((l) => l.cause === 'auth');
    expect(line?.level).toBe(50);
    expect((line?.err as { message: string }).message).toContain('AADSTS7000215');
    expect(JSON.stringify(h.logs)).not.toContain(SECRET);
  });

  it('bounds the work it holds: write() blocks until requests complete', async () => {
    const h = await setup({ config: { maxConcurrency: 1, maxRequestBytes: 10_000 } });
    h.fake.hold();
    const batches: TestBatch[] = [];
    let blocked: Promise<void> | undefined;
    for (let i = 0; i < 50 && !blocked; i++) {
      const b = batch('App_CL', Array.from({ length: 5 }, (_, j) => rec(i * 5 + j, 900)));
      batches.push(b);
      const p = h.sink.write(b, h.signal);
      if (await isPending(p)) blocked = p;
    }
    expect(blocked).toBeDefined();
    // (maxConcurrency + 1) requests' worth: 20 KB, so a handful of 4.6 KB batches.
    expect(batches.length).toBeLessThanOrEqual(6);
    await vi.waitFor(() => expect(h.fake.active).toBe(1));
    expect(await isPending(blocked!)).toBe(true);
    h.fake.release();
    await blocked;
    await vi.waitFor(() => expect(batches.every((b) => b.settlements[0] === 'delivered')).toBe(true));
    expect(h.fake.maxActive).toBe(1);
  });

  it('rejects a blocked write when its signal aborts', async () => {
    const h = await setup({ config: { maxConcurrency: 1, maxRequestBytes: 2_000 } });
    h.fake.hold();
    const ac = new AbortController();
    let blocked: Promise<void> | undefined;
    for (let i = 0; i < 20 && !blocked; i++) {
      const p = h.sink.write(batch('App_CL', [rec(i, 900)]), ac.signal);
      if (await isPending(p)) blocked = p;
    }
    expect(blocked).toBeDefined();
    ac.abort(new Error('pipeline stopping'));
    await expect(blocked).rejects.toThrow('pipeline stopping');
  });

  it('flushes pending records on stop', async () => {
    const clock = new FakeClock();
    const h = await setup({ clock, config: { flushIntervalMs: 60_000 } });
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    expect(h.fake.ingests).toHaveLength(0);
    await h.sink.stop(new AbortController().signal);
    expect(b.settlements).toEqual(['delivered']);
    expect(h.sink.healthcheck()).toEqual({ healthy: false, detail: 'stopped' });
    await expect(h.sink.write(batch('App_CL', [rec(2)]), h.signal)).rejects.toMatchObject({ code: 'OMA_ERR_COMPONENT' });
  });

  it('stop() abandons retries and in-flight requests without settling when its signal aborts', async () => {
    const h = await setup({ config: { maxConcurrency: 2 } });
    h.fake.reply = (r) => (r.stream === 'Custom-Retry_CL' ? { status: 503 } : { status: 204 });
    const retrying = batch('Retry_CL', [rec(1)]);
    await h.sink.write(retrying, h.signal);
    await vi.waitFor(() => expect(h.ctx.metrics.retries.sum(h.ctx.labels)).toBeGreaterThanOrEqual(1));
    h.fake.hold();
    const hanging = batch('Hang_CL', [rec(2)]);
    await h.sink.write(hanging, h.signal);
    await vi.waitFor(() => expect(h.fake.active).toBeGreaterThanOrEqual(1));
    const ac = new AbortController();
    const stopped = h.sink.stop(ac.signal);
    expect(await isPending(stopped)).toBe(true);
    ac.abort();
    await stopped;
    expect(retrying.settlements).toEqual([]);
    expect(hanging.settlements).toEqual([]);
    expect(h.logs.some((l) => l.msg === 'stop deadline reached; undelivered records stay queued for the next start')).toBe(true);
  });

  it('never reorders a table around a failed request; other tables proceed', async () => {
    const clock = new FakeClock();
    const h = await setup({ clock, config: { retry: { initialDelayMs: 1000, maxDelayMs: 1000 } } });
    h.fake.reply = (r) => (r.n === 1 ? { status: 500 } : { status: 204 });
    const a1 = batch('A_CL', [rec(1)]);
    await h.sink.write(a1, h.signal);
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    const a2 = batch('A_CL', [rec(2)]);
    const b1 = batch('B_CL', [rec(3)]);
    await h.sink.write(a2, h.signal);
    await h.sink.write(b1, h.signal);
    await vi.waitFor(() => expect(b1.settlements).toEqual(['delivered']));
    expect(h.fake.ingests.map((i) => [i.stream, i.records[0]!.Seq])).toEqual([
      ['Custom-A_CL', 1],
      ['Custom-B_CL', 3],
    ]);
    expect(a2.settlements).toEqual([]);
    // B's success does not hide that A is failing.
    expect(h.sink.healthcheck()).toEqual({ healthy: false, detail: 'A_CL: HTTP 500: the Logs Ingestion API failed transiently' });
    await clock.advance(1000);
    await vi.waitFor(() => expect(a2.settlements).toEqual(['delivered']));
    expect(a1.settlements).toEqual(['delivered']);
    expect(h.fake.acceptedRecords('Custom-A_CL').map((r) => r.Seq)).toEqual([1, 2]);
    expect(h.sink.healthcheck()).toEqual({ healthy: true });
  });

  it('settles an empty batch at once', async () => {
    const h = await setup();
    const empty = batch('App_CL', []);
    await h.sink.write(empty, h.signal);
    expect(empty.settlements).toEqual(['delivered']);
  });

  it('contains a throwing ack callback', async () => {
    const h = await setup();
    const b: Batch = { ...batch('App_CL', [rec(1)]), ack: { settle: () => { throw new Error('ack failed'); } } };
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(h.logs.some((l) => l.msg === 'settling a batch failed')).toBe(true));
    const next = batch('App_CL', [rec(2)]);
    await h.sink.write(next, h.signal);
    await vi.waitFor(() => expect(next.settlements).toEqual(['delivered']));
  });
});
