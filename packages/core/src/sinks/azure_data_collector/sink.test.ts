import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LogRecord } from '../../model/record.js';
import type { ComponentContext, Sink } from '../../pipeline/component.js';
import type { Clock } from '../../ports/clock.js';
import { FakeClock } from '../../testing/fake-clock.js';
import { testComponentContext } from '../../testing/context.js';
import { Cleanups, captureLogs, isPending, LoopbackService, tempStateDir, testBatch, type LogLine, type TestBatch } from '../shared/testing.js';
import { azureDataCollectorConfigSchema, MAX_FIELD_BYTES } from './config.js';
import { dataCollectorFormat } from './payload.js';
import { azureDataCollectorSink } from './sink.js';

const WS = '0b8c4f5e-1234-4abc-9def-0123456789ab';
/** The records as the pipeline queues them for this sink (default property names). */
const FORMAT = dataCollectorFormat({ TimeGenerated: 'Timestamp', RawData: 'Message', tenant: 'TenantName' }, MAX_FIELD_BYTES);
const batch = (table: string, records: LogRecord[]): TestBatch => testBatch(table, records, FORMAT);
const KEY = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)).toString('base64');
const RFC1123_RE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

// ---- a fake HTTP Data Collector API that checks signatures on its own ------------------------------

interface Post {
  readonly n: number;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly records: Record<string, unknown>[];
  readonly bytes: number;
  /** The signature matched one computed here from the raw body bytes. */
  readonly signatureOk: boolean;
}

type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'reset';

class FakeDataCollector extends LoopbackService {
  readonly posts: Post[] = [];
  readonly accepted: Post[] = [];
  active = 0;
  maxActive = 0;
  reply: (post: Post) => Reply = () => ({ status: 200 });

  static start(): Promise<FakeDataCollector> {
    return new FakeDataCollector().listen();
  }

  acceptedRecords(): Record<string, unknown>[] {
    return this.accepted.flatMap((p) => p.records);
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const date = String(req.headers['x-ms-date']);
    const toSign = `POST\n${body.length}\napplication/json\nx-ms-date:${date}\n/api/logs`;
    const expected = `SharedKey ${WS}:${createHmac('sha256', Buffer.from(KEY, 'base64')).update(toSign, 'utf8').digest('base64')}`;
    const post: Post = {
      n: this.posts.length + 1,
      url: req.url ?? '',
      headers: req.headers,
      records: JSON.parse(body.toString('utf8')) as Record<string, unknown>[],
      bytes: body.length,
      signatureOk: req.headers.authorization === expected,
    };
    this.posts.push(post);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.passGate();
      const reply = post.signatureOk ? this.reply(post) : { status: 403, body: '{"Error":"InvalidAuthorization","Message":"bad signature"}' };
      if (reply === 'reset') {
        req.socket.resetAndDestroy();
        return;
      }
      if (reply.status >= 200 && reply.status <= 299) this.accepted.push(post);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    } finally {
      this.active--;
    }
  }
}

// ---- helpers ------------------------------------------------------------------------------------

function rec(i: number, pad = 0): LogRecord {
  return { TimeGenerated: '2026-01-01T00:00:00.000Z', Seq: i, RawData: 'x'.repeat(pad) };
}

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

interface Harness {
  fake: FakeDataCollector;
  sink: Sink;
  ctx: ComponentContext;
  stateDir: string;
  logs: LogLine[];
  signal: AbortSignal;
}

async function setup(opts: { clock?: Clock; config?: Record<string, unknown> } = {}): Promise<Harness> {
  const fake = await FakeDataCollector.start();
  cleanups.push(() => fake.close());
  const stateDir = tempStateDir('oma-dc-', cleanups);
  const { log, lines: logs } = captureLogs();
  const ctx = testComponentContext({ id: 'dc', type: 'azure_data_collector', stateDir, log, ...(opts.clock ? { clock: opts.clock } : {}) });
  const config = azureDataCollectorConfigSchema.parse({
    workspaceId: WS,
    sharedKey: KEY,
    endpoint: fake.url,
    flushIntervalMs: 0,
    retry: { initialDelayMs: 5, maxDelayMs: 20 },
    ...opts.config,
  });
  const sink = azureDataCollectorSink.create(config, ctx);
  await sink.start();
  cleanups.push(() => sink.stop(AbortSignal.abort()));
  return { fake, sink, ctx, stateDir, logs, signal: new AbortController().signal };
}

function deadLetters(stateDir: string): Array<Record<string, unknown>> {
  const dir = join(stateDir, 'dead-letter');
  return readdirSync(dir)
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>);
}

// ---- tests --------------------------------------------------------------------------------------

describe('azure_data_collector sink', () => {
  it('sends the documented request, signed over the byte length of a non-ASCII body', async () => {
    const clock = new FakeClock(Date.UTC(2026, 2, 4, 5, 6, 7));
    const rid = '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1';
    const h = await setup({ clock, config: { azureResourceId: rid } });
    const b = batch('MyApp_CL', [
      { TimeGenerated: '2026-03-04T05:00:00.000Z', RawData: 'café ü 日本 🚀', Computer: 'host1', Level: 3, Ok: true, Extra: { a: 1 } },
      { TimeGenerated: '2026-03-04T05:00:01.000Z', RawData: 'second', Computer: 'host1', Nothing: null },
    ]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));

    expect(h.fake.posts).toHaveLength(1);
    const post = h.fake.posts[0]!;
    expect(post.url).toBe('/api/logs?api-version=2016-04-01');
    expect(post.signatureOk).toBe(true);
    expect(post.headers.authorization).toMatch(new RegExp(`^SharedKey ${WS}:[A-Za-z0-9+/]{43}=$`));
    expect(post.headers['content-type']).toBe('application/json');
    expect(post.headers['log-type']).toBe('MyApp');
    expect(post.headers['x-ms-date']).toBe('Wed, 04 Mar 2026 05:06:07 GMT');
    expect(post.headers['time-generated-field']).toBe('Timestamp');
    expect(post.headers['x-ms-azureresourceid']).toBe(rid);
    expect(post.headers['content-encoding']).toBeUndefined();
    expect(post.headers['user-agent']).toBe('OMA/0.0.0-test (Linux; Test Linux)');
    expect(Number(post.headers['content-length'])).toBe(post.bytes);
    expect(post.records).toEqual([
      { Timestamp: '2026-03-04T05:00:00.000Z', Message: 'café ü 日本 🚀', Computer: 'host1', Level: 3, Ok: true, Extra: '{"a":1}' },
      { Timestamp: '2026-03-04T05:00:01.000Z', Message: 'second', Computer: 'host1' },
    ]);
    expect(h.ctx.metrics.recordsOut.get({ ...h.ctx.labels, table: 'MyApp_CL' })).toBe(2);
    expect(h.ctx.metrics.httpResponses.get({ ...h.ctx.labels, status: '200' })).toBe(1);
    expect(h.sink.healthcheck()).toEqual({ healthy: true });
    expect(JSON.stringify(h.logs)).not.toContain(KEY);
  });

  it('sends tables as their configured Log-Type, else the name without _CL', async () => {
    const h = await setup({ config: { logTypes: { Syslog: 'LinuxSyslog' } } });
    const batches = [batch('Syslog', [rec(1)]), batch('Web_CL', [rec(2)]), batch('Perf', [rec(3)])];
    for (const b of batches) await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(batches.every((b) => b.settlements[0] === 'delivered')).toBe(true));
    expect(h.fake.posts.map((p) => p.headers['log-type']).sort()).toEqual(['LinuxSyslog', 'Perf', 'Web']);
  });

  it('signs every retry again with a fresh x-ms-date', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const h = await setup({ clock, config: { retry: { initialDelayMs: 5000, maxDelayMs: 5000 } } });
    h.fake.reply = (p) => (p.n === 1 ? { status: 500, body: '{"Error":"UnspecifiedError","Message":"boom"}' } : { status: 200 });
    const b = batch('App_CL', [{ RawData: '日本語 🚀' }]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    await clock.advance(5000);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    const [first, second] = h.fake.posts;
    expect(first!.headers['x-ms-date']).toBe('Thu, 01 Jan 2026 00:00:00 GMT');
    expect(second!.headers['x-ms-date']).toBe('Thu, 01 Jan 2026 00:00:05 GMT');
    expect(second!.headers['x-ms-date']).toMatch(RFC1123_RE);
    expect([first!.signatureOk, second!.signatureOk]).toEqual([true, true]);
    expect(first!.headers.authorization).not.toBe(second!.headers.authorization);
    expect(h.ctx.metrics.retries.sum(h.ctx.labels)).toBe(1);
  });

  it('dead-letters records refused with 400 InvalidDataFormat, with the code, without retrying', async () => {
    const h = await setup();
    const error = { Error: 'InvalidDataFormat', Message: 'The data is not valid JSON' };
    h.fake.reply = () => ({ status: 400, body: JSON.stringify(error), headers: { 'x-ms-request-id': 'req-1' } });
    const b = batch('App_CL', [rec(1), rec(2)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['rejected']));
    expect(h.fake.posts).toHaveLength(1);
    const [doc] = deadLetters(h.stateDir);
    expect(doc).toMatchObject({ table: 'App_CL', stream: 'App', reason: 'rejected_400', status: 400, requestId: 'req-1', error });
    expect(doc!.records).toEqual([
      { Timestamp: '2026-01-01T00:00:00.000Z', Seq: 1, Message: '' },
      { Timestamp: '2026-01-01T00:00:00.000Z', Seq: 2, Message: '' },
    ]);
    expect(h.ctx.metrics.recordsDropped.get({ ...h.ctx.labels, table: 'App_CL', reason: 'rejected_400' })).toBe(2);
    expect(h.logs.find((l) => l.reason === 'rejected_400')).toMatchObject({ level: 50, code: 'InvalidDataFormat', count: 2 });
    expect(h.sink.healthcheck().healthy).toBe(true);
  });

  it.each([
    [400, '{"Error":"InvalidCustomerId","Message":"The workspace ID specified is invalid"}', /refuses the request itself/],
    [400, '{"Error":"InactiveCustomer","Message":"inactive"}', /refuses the request itself/],
    [403, '{"Error":"InvalidAuthorization","Message":"An invalid signature was specified"}', /clock is skewed/],
  ])('keeps the data and backs off at least 60 s on %i %s', async (status, body, message) => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const h = await setup({ clock, config: { retry: { initialDelayMs: 1000, maxDelayMs: 300_000 } } });
    h.fake.reply = (p) => (p.n === 1 ? { status, body, headers: { date: 'Thu, 01 Jan 2026 12:20:00 GMT' } } : { status: 200 });
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(h.sink.healthcheck().healthy).toBe(false));
    expect(h.sink.healthcheck().detail).toMatch(message);
    const line = h.logs.find((l) => l.status === status);
    expect(line).toMatchObject({ level: 50, msg: expect.stringMatching(message) as string, code: JSON.parse(body).Error as string });
    if (status === 403) {
      expect(line).toMatchObject({ localTime: '2026-01-01T12:00:00.000Z', serviceTime: '2026-01-01T12:20:00.000Z', clockSkewMs: -1_200_000 });
    }
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    await clock.advance(59_999);
    expect(h.fake.posts).toHaveLength(1);
    expect(b.settlements).toEqual([]);
    await clock.advance(1);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(h.sink.healthcheck()).toEqual({ healthy: true });
    expect(readdirSync(h.stateDir)).not.toContain('dead-letter');
  });

  it('splits a request in halves on 404 (too large), keeping the order', async () => {
    const h = await setup({ config: { maxConcurrency: 1 } });
    h.fake.reply = (p) => (p.records.length > 2 ? { status: 404 } : { status: 200 });
    const b = batch('App_CL', Array.from({ length: 7 }, (_, i) => rec(i)));
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(h.fake.acceptedRecords().map((r) => r.Seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(h.fake.posts.map((p) => p.records.length)).toEqual([7, 4, 2, 2, 3, 2, 1]);
    expect(h.ctx.metrics.recordsDropped.sum(h.ctx.labels)).toBe(0);
  });

  it('treats 404 for a single record as a wrong workspace or endpoint and backs off', async () => {
    const clock = new FakeClock();
    const h = await setup({ clock, config: { maxConcurrency: 1, retry: { initialDelayMs: 1000, maxDelayMs: 300_000 } } });
    h.fake.reply = () => ({ status: 404 });
    const b = batch('App_CL', [rec(1), rec(2)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    // The pair was split once; the first half (one record) now waits, the second behind it.
    expect(h.fake.posts.map((p) => p.records.length)).toEqual([2, 1]);
    expect(h.sink.healthcheck()).toMatchObject({ healthy: false, detail: expect.stringMatching(/workspaceId, cloud and endpoint/) as string });
    expect(h.logs.find((l) => l.cause === 'not_found')).toMatchObject({ level: 50, status: 404 });
    h.fake.reply = () => ({ status: 200 });
    await clock.advance(60_000);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(h.fake.acceptedRecords().map((r) => r.Seq)).toEqual([1, 2]);
  });

  it('splits on 413 and dead-letters a single record the service still refuses', async () => {
    const h = await setup({ config: { maxConcurrency: 1 } });
    h.fake.reply = (p) => (p.records.some((r) => r.Seq === 2) ? { status: 413 } : { status: 200 });
    const b = batch('App_CL', [rec(1), rec(2), rec(3), rec(4)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['rejected']));
    expect(h.fake.acceptedRecords().map((r) => r.Seq)).toEqual([1, 3, 4]);
    expect(deadLetters(h.stateDir)).toMatchObject([{ reason: 'record_too_large', status: 413 }]);
    expect(h.ctx.metrics.recordsDropped.get({ ...h.ctx.labels, table: 'App_CL', reason: 'record_too_large' })).toBe(1);
  });

  it('truncates fields over 32 KB and dead-letters a record larger than a request', async () => {
    const h = await setup({ config: { maxRequestBytes: 65_536 } });
    const big: LogRecord = { A: 'a'.repeat(30_000), B: 'b'.repeat(30_000), C: 'c'.repeat(30_000) };
    const b = batch('App_CL', [rec(1, 40_000), big, rec(3)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['rejected']));
    const sent = h.fake.acceptedRecords();
    expect(sent.map((r) => r.Seq)).toEqual([1, 3]);
    expect((sent[0]!.Message as string).length).toBe(32_768);
    // Cut when queued (the pipeline counts it); the record too large for any request is the sink's to drop.
    expect(FORMAT.encodeRecords('App_CL', [rec(1, 40_000), big, rec(3)]).truncated).toBe(1);
    expect(h.ctx.metrics.recordsDropped.get({ ...h.ctx.labels, table: 'App_CL', reason: 'record_too_large' })).toBe(1);
  });

  it('waits the Retry-After of a 429 before sending anything to the workspace again', async () => {
    const clock = new FakeClock();
    const h = await setup({ clock });
    h.fake.reply = (p) => (p.n === 1 ? { status: 429, headers: { 'retry-after': '3' } } : { status: 200 });
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    const other = batch('Other_CL', [rec(2)]);
    await h.sink.write(other, h.signal);
    await clock.advance(2999);
    expect(h.fake.posts).toHaveLength(1);
    await clock.advance(1);
    await vi.waitFor(() => expect([b.settlements, other.settlements]).toEqual([['delivered'], ['delivered']]));
    expect(h.fake.posts).toHaveLength(3);
    expect(h.logs.find((l) => l.cause === 'throttled')).toMatchObject({ level: 40, delayMs: 3000 });
  });

  it('retries 500, 503 and connection resets with backoff', async () => {
    const h = await setup();
    const script: Reply[] = [{ status: 500 }, { status: 503 }, 'reset', { status: 502 }];
    h.fake.reply = (p) => script[p.n - 1] ?? { status: 200 };
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));
    expect(h.fake.posts).toHaveLength(5);
    expect(h.fake.posts.every((p) => p.signatureOk)).toBe(true);
    expect(h.ctx.metrics.retries.sum(h.ctx.labels)).toBe(4);
    for (const s of ['500', '503', '502', '200']) expect(h.ctx.metrics.httpResponses.get({ ...h.ctx.labels, status: s })).toBe(1);
    expect(h.logs.filter((l) => l.level === 40 && l.msg === 'data collector request failed; retrying').length).toBeGreaterThan(0);
  });

  it('keeps retrying while the endpoint is unreachable and reports unhealthy', async () => {
    const h = await setup({ config: { endpoint: 'http://127.0.0.1:1' } });
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(h.ctx.metrics.retries.sum(h.ctx.labels)).toBeGreaterThanOrEqual(2));
    expect(h.sink.healthcheck()).toMatchObject({ healthy: false, detail: expect.stringMatching(/cannot reach/) as string });
    expect(b.settlements).toEqual([]);
    expect((h.logs.find((l) => l.cause === 'network')?.err as { message?: string } | undefined)?.message).toMatch(/ECONNREFUSED/);
  });

  it('never reorders a table around a failed request; other tables proceed', async () => {
    const clock = new FakeClock();
    const h = await setup({ clock, config: { retry: { initialDelayMs: 1000, maxDelayMs: 1000 } } });
    h.fake.reply = (p) => (p.n === 1 ? { status: 500 } : { status: 200 });
    const a1 = batch('A_CL', [rec(1)]);
    await h.sink.write(a1, h.signal);
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    const a2 = batch('A_CL', [rec(2)]);
    const b1 = batch('B_CL', [rec(3)]);
    await h.sink.write(a2, h.signal);
    await h.sink.write(b1, h.signal);
    await vi.waitFor(() => expect(b1.settlements).toEqual(['delivered']));
    expect(a2.settlements).toEqual([]);
    expect(h.sink.healthcheck()).toEqual({ healthy: false, detail: 'A_CL: HTTP 500: the HTTP Data Collector API failed transiently' });
    await clock.advance(1000);
    await vi.waitFor(() => expect(a2.settlements).toEqual(['delivered']));
    expect(h.fake.posts.filter((p) => p.headers['log-type'] === 'A').map((p) => p.records[0]!.Seq)).toEqual([1, 1, 2]);
  });

  it('bounds the work it holds: write() blocks until requests complete', async () => {
    const h = await setup({ config: { maxConcurrency: 1, maxRequestBytes: 65_536 } });
    h.fake.hold();
    const batches: TestBatch[] = [];
    let blocked: Promise<void> | undefined;
    for (let i = 0; i < 100 && !blocked; i++) {
      const b = batch('App_CL', Array.from({ length: 5 }, (_, j) => rec(i * 5 + j, 2000)));
      batches.push(b);
      const p = h.sink.write(b, h.signal);
      if (await isPending(p)) blocked = p;
    }
    expect(blocked).toBeDefined();
    // (maxConcurrency + 1) requests' worth: 128 KiB, so about a dozen 10 KB batches.
    expect(batches.length).toBeLessThanOrEqual(14);
    h.fake.release();
    await blocked;
    await vi.waitFor(() => expect(batches.every((b) => b.settlements[0] === 'delivered')).toBe(true));
    expect(h.fake.maxActive).toBe(1);
  });

  it('flushes pending records on stop and refuses batches after', async () => {
    const clock = new FakeClock();
    const h = await setup({ clock, config: { flushIntervalMs: 60_000 } });
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    expect(h.fake.posts).toHaveLength(0);
    await h.sink.stop(new AbortController().signal);
    expect(b.settlements).toEqual(['delivered']);
    expect(h.sink.healthcheck()).toEqual({ healthy: false, detail: 'stopped' });
    await expect(h.sink.write(batch('App_CL', [rec(2)]), h.signal)).rejects.toMatchObject({ code: 'OMA_ERR_COMPONENT' });
  });

  it('stop() abandons retries without settling when its signal aborts', async () => {
    const h = await setup();
    h.fake.reply = () => ({ status: 503 });
    const b = batch('App_CL', [rec(1)]);
    await h.sink.write(b, h.signal);
    await vi.waitFor(() => expect(h.ctx.metrics.retries.sum(h.ctx.labels)).toBeGreaterThanOrEqual(1));
    const ac = new AbortController();
    const stopped = h.sink.stop(ac.signal);
    ac.abort();
    await stopped;
    expect(b.settlements).toEqual([]);
  });

  it('settles an empty batch at once; records that cannot be serialized never reach it', async () => {
    const h = await setup();
    const empty = batch('App_CL', []);
    await h.sink.write(empty, h.signal);
    expect(empty.settlements).toEqual(['delivered']);
    const out = FORMAT.encodeRecords('App_CL', [rec(1), { Seq: 2, Bad: 10n } as unknown as LogRecord]);
    expect(out).toMatchObject({ invalid: 1, batch: { count: 1 } });
    const settlements: string[] = [];
    await h.sink.write({ ...out.batch, ack: { settle: (o) => settlements.push(o) } }, h.signal);
    await vi.waitFor(() => expect(settlements).toEqual(['delivered']));
    expect(h.fake.acceptedRecords().map((r) => r.Seq)).toEqual([1]);
  });

  it('warns at start about a key that is not 64 bytes, without printing it', async () => {
    const short = Buffer.from('0123456789abcdef').toString('base64');
    const h = await setup({ config: { sharedKey: short } });
    expect(h.logs.find((l) => /not 64 bytes/.test(l.msg))).toMatchObject({ level: 40, bytes: 16 });
    expect(JSON.stringify(h.logs)).not.toContain(short);
  });
});
