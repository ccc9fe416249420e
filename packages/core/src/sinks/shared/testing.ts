/**
 * Helpers of the sink tests (never imported by the sinks): a loopback server to fake a service on,
 * batches that record how they settle, captured log lines and clean-ups.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { LogRecord } from '../../model/record.js';
import { decodeJsonRecords, jsonFormat, type WireFormat } from '../../wire/format.js';
import type { EncodedBatch } from '../../wire/encoded-batch.js';
import type { Batch, Settlement } from '../../pipeline/batch.js';
import type { Logger } from '../../telemetry/logger.js';

/**
 * A fake service on 127.0.0.1 (port 0): `handle` gets each request with its whole body. While `hold()`
 * is in force, handlers that call `passGate()` wait there until `release()`.
 */
export abstract class LoopbackService {
  private server: Server | undefined;
  private gate: { promise: Promise<void>; open: () => void } | undefined;

  protected abstract handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void | Promise<void>;

  /** Starts listening; resolves to the service itself. */
  async listen(): Promise<this> {
    const server = createServer();
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.handle(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.server = server;
    return this;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Requests wait for `release()` before being answered. */
  hold(): void {
    if (this.gate) return;
    let open!: () => void;
    const promise = new Promise<void>((r) => (open = r));
    this.gate = { promise, open };
  }

  release(): void {
    const g = this.gate;
    this.gate = undefined;
    g?.open();
  }

  async close(): Promise<void> {
    this.release();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }

  /** Waits while the service is held. */
  protected async passGate(): Promise<void> {
    while (this.gate) await this.gate.promise;
  }
}

/** A batch that records its settlements. */
export interface TestBatch extends Batch {
  readonly settlements: Settlement[];
}

/** A batch of `records` encoded in `format` (default: the canonical JSON of Logs Ingestion), as a sink reads it from its queue. */
export function testBatch(table: string, records: LogRecord[], format: WireFormat = jsonFormat): TestBatch {
  const settlements: Settlement[] = [];
  const encoded = format.encodeRecords(table, records).batch;
  return { ...encoded, ack: { settle: (o) => settlements.push(o) }, settlements };
}

/** The records of a batch (canonical JSON), parsed back. */
export function recordsOf(batch: EncodedBatch): LogRecord[] {
  return decodeJsonRecords(batch);
}

export type LogLine = Record<string, unknown> & { msg: string; level: number };

/** A debug-level logger whose lines are kept as written (`raw`) and parsed (`lines`). */
export function captureLogs(): { log: Logger; lines: LogLine[]; raw: string[] } {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const log = pino(
    { level: 'debug' },
    {
      write: (line: string) => {
        raw.push(line);
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { log, lines, raw };
}

/** Clean-ups of a test, run last first: `afterEach(() => cleanups.run())`. */
export class Cleanups {
  private readonly steps: Array<() => Promise<unknown> | void> = [];

  push(step: () => Promise<unknown> | void): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await step();
  }
}

/** A new empty directory, removed by the clean-ups. */
export function tempStateDir(prefix: string, cleanups: Cleanups): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Whether `p` is still pending once everything already runnable has run. */
export async function isPending(p: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  const r = await Promise.race([p.then(() => 'done'), new Promise((resolve) => setImmediate(() => resolve(marker)))]);
  return r === marker;
}
