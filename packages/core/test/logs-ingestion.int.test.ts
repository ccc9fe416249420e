/**
 * The azure_logs_ingestion sink against a strict fake of Entra ID and the Logs Ingestion API that
 * injects faults: throttling, transient errors, connection resets, revoked tokens, a body limit lower
 * than ours (413) and schema rejections (400). Batches are fed the way the pipeline feeds them, one
 * `write` at a time, and replayed to a new sink instance after an interrupted stop.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LogRecord } from '../src/model/record.js';
import type { Batch, Settlement } from '../src/pipeline/batch.js';
import type { ComponentContext, Sink } from '../src/pipeline/component.js';
import { testComponentContext } from '../src/testing/index.js';
import { azureLogsIngestionSink } from '../src/sinks/azure_logs_ingestion/index.js';
import { seededRandom } from '../src/testing/index.js';
import { jsonFormat } from '../src/wire/format.js';

const DCR = 'dcr-00112233445566778899aabbccddeeff';
const TENANT = 'contoso.onmicrosoft.com';
const CLIENT = '01234567-89ab-cdef-0123-456789abcdef';
const SECRET = 'int-test-secret';
/** The fake service refuses JSON bodies above this (lower than the sink's limit, to force splits). */
const SERVICE_MAX_JSON = 40_000;

interface Options {
  /** Fault probability per request (0 disables faults). */
  faultRate: number;
  /** Every request fails with 503 while true. */
  outage: boolean;
}

class StrictFakeService {
  readonly opts: Options = { faultRate: 0, outage: false };
  /** Records accepted, per stream, in order of acceptance. */
  readonly accepted = new Map<string, LogRecord[]>();
  /** Records of requests rejected with 400. */
  readonly rejected: LogRecord[] = [];
  readonly statuses: number[] = [];
  active = 0;
  maxActive = 0;
  tokensIssued = 0;
  private readonly validTokens = new Set<string>();
  private readonly random = seededRandom(42);
  private requests = 0;
  private faults = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<StrictFakeService> {
    const server = createServer();
    const svc = new StrictFakeService(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => svc.handle(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return svc;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}): void => {
      this.statuses.push(status);
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    };
    if (req.url === `/${TENANT}/oauth2/v2.0/token`) {
      const form = new URLSearchParams(body.toString('utf8'));
      if (form.get('client_secret') !== SECRET || form.get('client_id') !== CLIENT || form.get('grant_type') !== 'client_credentials') {
        reply(401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
        return;
      }
      const token = `tok-${++this.tokensIssued}`;
      this.validTokens.add(token);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3599, access_token: token }));
      return;
    }
    const m = /^\/dataCollectionRules\/([^/]+)\/streams\/([^/?]+)\?api-version=2023-01-01$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m || m[1] !== DCR) {
      reply(404, { error: { code: 'NotFound', message: 'no such rule or stream' } });
      return;
    }
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      this.ingest(req, res, body, decodeURIComponent(m[2]!), reply);
    } finally {
      this.active--;
    }
  }

  private ingest(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    stream: string,
    reply: (status: number, payload?: unknown, headers?: Record<string, string>) => void,
  ): void {
    const n = ++this.requests;
    if (!/^[0-9a-f-]{36}$/.test(String(req.headers['x-ms-client-request-id']))) {
      reply(400, { error: { code: 'MissingRequestId', message: 'x-ms-client-request-id missing' } });
      return;
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (token === undefined || !this.validTokens.has(token)) {
      reply(401, { error: { code: 'InvalidToken', message: 'token missing, expired or revoked' } });
      return;
    }
    if (body.length > 1_048_576) {
      reply(413, { error: { code: 'ContentLengthLimitExceeded', message: 'Maximum allowed content length: 1048576 bytes (1 MB)' } });
      return;
    }
    if (this.opts.outage) {
      reply(503);
      return;
    }
    if (this.opts.faultRate > 0 && this.random() < this.opts.faultRate) {
      const kind = this.faults++ % 5; // every kind of fault, in turn
      if (kind === 0) return reply(503, undefined, { 'retry-after-ms': String(5 + Math.floor(this.random() * 10)) });
      if (kind === 1) return reply(429, undefined, { 'retry-after-ms': '10' });
      if (kind === 2) return reply(500, { error: { code: 'InternalError', message: 'try again' } });
      if (kind === 3) {
        // The token is revoked: the sink must fetch a new one.
        this.validTokens.delete(token);
        return reply(401, { error: { code: 'InvalidToken', message: 'revoked' } });
      }
      req.socket.resetAndDestroy();
      return;
    }
    let json: Buffer;
    try {
      json = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
    } catch {
      reply(400, { error: { code: 'InvalidContentEncoding', message: 'body is not gzip' } });
      return;
    }
    if (json.length > SERVICE_MAX_JSON) {
      reply(413, { error: { code: 'ContentLengthLimitExceeded', message: `request ${n} too large` } });
      return;
    }
    let records: unknown;
    try {
      records = JSON.parse(json.toString('utf8'));
    } catch {
      reply(400, { error: { code: 'InvalidJson', message: 'malformed JSON' } });
      return;
    }
    if (!Array.isArray(records) || records.some((r) => typeof r !== 'object' || r === null || Array.isArray(r))) {
      reply(400, { error: { code: 'InvalidJson', message: 'expected an array of objects' } });
      return;
    }
    const recs = records as LogRecord[];
    if (recs.some((r) => r.Poison === true)) {
      this.rejected.push(...recs);
      reply(400, { error: { code: 'InvalidStreamData', message: 'Poison does not match the stream declaration' } });
      return;
    }
    const list = this.accepted.get(stream) ?? [];
    list.push(...recs);
    this.accepted.set(stream, list);
    reply(204);
  }
}

interface FedBatch extends Batch {
  readonly id: number;
  /** The records, as objects, for the checks. */
  readonly records: readonly LogRecord[];
  readonly settlements: Settlement[];
}

function makeBatches(tables: string[], perTable: number, recordsPerBatch: number): FedBatch[] {
  const out: FedBatch[] = [];
  let id = 0;
  for (let i = 0; i < perTable; i++) {
    for (const table of tables) {
      const records: LogRecord[] = [];
      for (let j = 0; j < recordsPerBatch; j++) {
        const seq = i * recordsPerBatch + j;
        const r: LogRecord = { TimeGenerated: '2026-01-01T00:00:00.000Z', Table: table, Seq: seq, RawData: `line ${seq} `.padEnd(300, '.') };
        if (table === 'Poisoned_CL' && seq % 97 === 13) r.Poison = true;
        records.push(r);
      }
      out.push(newBatch(id++, table, records));
    }
  }
  return out;
}

function newBatch(id: number, table: string, records: readonly LogRecord[]): FedBatch {
  const settlements: Settlement[] = [];
  return { id, ...jsonFormat.encodeRecords(table, records).batch, records, ack: { settle: (o) => settlements.push(o) }, settlements };
}

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function world(): Promise<{ svc: StrictFakeService; stateDir: string }> {
  const svc = await StrictFakeService.start();
  cleanups.push(() => svc.close());
  const stateDir = mkdtempSync(join(tmpdir(), 'oma-li-int-'));
  cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
  return { svc, stateDir };
}

function newSink(svc: StrictFakeService, stateDir: string, maxConcurrency: number): { sink: Sink; ctx: ComponentContext } {
  const config = azureLogsIngestionSink.schema.parse({
    endpoint: svc.url,
    dcrImmutableId: DCR,
    auth: { type: 'client_secret', tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET, authorityHost: svc.url },
    maxConcurrency,
    maxRequestBytes: '200KB',
    flushIntervalMs: '20ms',
    requestTimeoutMs: '5s',
    retry: { initialDelayMs: '2ms', maxDelayMs: '20ms' },
  });
  const ctx = testComponentContext({ id: 'workspace', type: 'azure_logs_ingestion', stateDir });
  const sink = azureLogsIngestionSink.create(config, ctx);
  cleanups.push(() => sink.stop(AbortSignal.abort()));
  return { sink, ctx };
}

/** Feeds batches one `write` at a time, like the pipeline's queue reader. */
async function feed(sink: Sink, batches: readonly Batch[], signal = new AbortController().signal): Promise<void> {
  for (const b of batches) await sink.write(b, signal);
}

describe('azure_logs_ingestion against a strict fake service', () => {
  it.each([1, 3])('delivers every record once under faults and settles every batch once (maxConcurrency %i)', async (maxConcurrency) => {
    const { svc, stateDir } = await world();
    svc.opts.faultRate = 0.2;
    const { sink, ctx } = newSink(svc, stateDir, maxConcurrency);
    await sink.start();
    const tables = ['Syslog_CL', 'App_CL', 'Poisoned_CL'];
    const batches = makeBatches(tables, 60, 25);
    await feed(sink, batches);
    await vi.waitFor(() => expect(batches.filter((b) => b.settlements.length === 0)).toEqual([]), { timeout: 20_000 });
    await sink.stop(AbortSignal.timeout(5_000));

    // Exactly once: accepted or rejected, never both, never twice.
    const key = (table: unknown, r: LogRecord): string => `${table as string}:${r.Seq as number}`;
    const rejectedKeys = new Set(svc.rejected.map((r) => key(r.Table, r)));
    for (const table of tables) {
      const expected = batches
        .filter((b) => b.table === table)
        .flatMap((b) => b.records)
        .filter((r) => !rejectedKeys.has(key(table, r)))
        .map((r) => r.Seq as number);
      const got = (svc.accepted.get(`Custom-${table}`) ?? []).map((r) => r.Seq as number);
      if (maxConcurrency === 1) expect(got).toEqual(expected); // in order
      else expect([...got].sort((a, b) => a - b)).toEqual(expected);
    }
    expect(svc.rejected.length).toBeGreaterThan(0);
    expect(svc.rejected.every((r) => r.Table === 'Poisoned_CL')).toBe(true);
    expect(svc.maxActive).toBeLessThanOrEqual(maxConcurrency);

    // Settlement: once each; rejected exactly when one of its records was rejected.
    for (const b of batches) {
      const lost = b.records.some((r) => rejectedKeys.has(key(b.table, r)));
      expect(b.settlements, `batch ${b.id}`).toEqual([lost ? 'rejected' : 'delivered']);
    }

    // The dead-letter directory holds exactly the rejected records.
    const dir = join(stateDir, 'dead-letter');
    const dead = readdirSync(dir).flatMap((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { records: LogRecord[] }).records);
    expect(dead.map((r) => r.Seq).sort()).toEqual(svc.rejected.map((r) => r.Seq).sort());

    // The faults were exercised, and counted.
    for (const s of [204, 400, 401, 413]) expect(svc.statuses).toContain(s);
    const labels = ctx.labels;
    expect(ctx.metrics.retries.sum(labels)).toBeGreaterThan(0);
    expect(ctx.metrics.recordsDropped.get({ ...labels, table: 'Poisoned_CL', reason: 'rejected_400' })).toBe(svc.rejected.length);
    const delivered = tables.reduce((n, t) => n + ctx.metrics.recordsOut.get({ ...labels, table: t }), 0);
    expect(delivered).toBe([...svc.accepted.values()].reduce((n, l) => n + l.length, 0));
  });

  it('leaves batches unsettled across an interrupted stop; a new instance delivers their replay', async () => {
    const { svc, stateDir } = await world();
    svc.opts.outage = true;
    const first = newSink(svc, stateDir, 2);
    await first.sink.start();
    const batches = makeBatches(['Syslog_CL', 'App_CL'], 5, 10);
    await feed(first.sink, batches);
    await vi.waitFor(() => expect(first.ctx.metrics.retries.sum(first.ctx.labels)).toBeGreaterThanOrEqual(4), { timeout: 10_000 });
    expect(first.sink.healthcheck().healthy).toBe(false);
    await first.sink.stop(AbortSignal.timeout(50));
    expect(batches.every((b) => b.settlements.length === 0)).toBe(true);

    // The durable queue hands the same entries to the next instance, with new ack handles.
    svc.opts.outage = false;
    const second = newSink(svc, stateDir, 2);
    await second.sink.start();
    const replay = batches.map((b) => newBatch(b.id, b.table, b.records));
    await feed(second.sink, replay);
    await vi.waitFor(() => expect(replay.every((b) => b.settlements[0] === 'delivered')).toBe(true), { timeout: 10_000 });
    expect(second.sink.healthcheck()).toEqual({ healthy: true });
    expect(batches.every((b) => b.settlements.length === 0)).toBe(true);
    for (const table of ['Syslog_CL', 'App_CL']) {
      expect((svc.accepted.get(`Custom-${table}`) ?? []).map((r) => r.Seq)).toEqual(
        batches.filter((b) => b.table === table).flatMap((b) => b.records.map((r) => r.Seq)),
      );
    }
  });

  it('keeps the data, unsettled and reported unhealthy, while the client secret is wrong', async () => {
    const { svc, stateDir } = await world();
    const config = azureLogsIngestionSink.schema.parse({
      endpoint: svc.url,
      dcrImmutableId: DCR,
      auth: { type: 'client_secret', tenantId: TENANT, clientId: CLIENT, clientSecret: 'wrong', authorityHost: svc.url },
      retry: { initialDelayMs: '2ms', maxDelayMs: '10ms' },
      flushIntervalMs: 0,
    });
    const ctx = testComponentContext({ id: 'workspace', type: 'azure_logs_ingestion', stateDir });
    const sink = azureLogsIngestionSink.create(config, ctx);
    cleanups.push(() => sink.stop(AbortSignal.abort()));
    await sink.start();
    const b = newBatch(1, 'App_CL', [{ Seq: 1 }]);
    await sink.write(b, new AbortController().signal);
    await vi.waitFor(() => expect(ctx.metrics.errors.sum({ ...ctx.labels, stage: 'auth' })).toBeGreaterThanOrEqual(3));
    expect(sink.healthcheck()).toMatchObject({ healthy: false, detail: expect.stringMatching(/access token/) as string });
    expect(b.settlements).toEqual([]);
    await sink.stop(AbortSignal.timeout(20));
    expect(b.settlements).toEqual([]);
  });
});
