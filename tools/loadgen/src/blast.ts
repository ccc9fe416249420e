import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertLoopback } from './loopback.js';
import { MAX_COUNT, MAX_DURATION_SEC, type SendResult } from './senders.js';

/** Where the build puts oma-blast (csrc/blast.c, built by node-gyp on Linux). */
export const BLAST_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Release', 'oma-blast');

export type BlastTarget =
  | { readonly transport: 'udp' | 'tcp'; readonly host: string; readonly port: number }
  | { readonly transport: 'unix'; readonly socket: string };

export interface BlastPlan {
  /** Messages per second (0: as fast as the target takes them). */
  readonly ratePerSec: number;
  /** Messages to send (at most MAX_COUNT). */
  readonly count: number;
  /** Stop after this many seconds whatever the count (default and at most MAX_DURATION_SEC). */
  readonly maxDurationSec?: number;
  /** Bytes per message, header included (default 150). */
  readonly sizeBytes?: number;
  /** Sender threads, each with its own socket and an equal share of count and rate (default 1). */
  readonly threads?: number;
  /** Messages per sendmmsg or write (default 64). */
  readonly batch?: number;
  /** A word in every message after the header (default `blast`). */
  readonly runId?: string;
  /** unix: a full receive queue drops (counted in `dropped`) instead of blocking the sender. */
  readonly nonblocking?: boolean;
}

export interface BlastResult extends SendResult {
  /** unix with `nonblocking`: datagrams the receiver's full queue refused. */
  readonly dropped: number;
}

/** Whether oma-blast was built (Linux, `npm run build -w @oma/loadgen`). */
export function blastAvailable(): boolean {
  return existsSync(BLAST_PATH);
}

/**
 * Sends numbered syslog messages (RFC 3164 and RFC 5424 alternately, rendered once into a slab) through
 * oma-blast: sendmmsg batches for UDP and unix datagrams, one write per batch for TCP (RFC 6587 octet
 * counting). One thread sends some 400-500k datagrams/s on loopback, where a Node socket sends 110-180k.
 * UDP and TCP targets must be loopback addresses.
 */
export async function sendBlast(target: BlastTarget, plan: BlastPlan): Promise<BlastResult> {
  if (!blastAvailable()) throw new Error(`oma-blast is not built (${BLAST_PATH}): run npm run build -w @oma/loadgen on Linux`);
  if (!Number.isInteger(plan.count) || plan.count < 0 || plan.count > MAX_COUNT) throw new Error(`count must be a whole number from 0 to ${MAX_COUNT}`);
  const dest = target.transport === 'unix' ? target.socket : `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  if (target.transport !== 'unix') assertLoopback(target.host);
  const args = [target.transport, dest, String(plan.ratePerSec), String(plan.count), '--duration-s', String(plan.maxDurationSec ?? MAX_DURATION_SEC)];
  if (plan.sizeBytes !== undefined) args.push('--size', String(plan.sizeBytes));
  if (plan.threads !== undefined) args.push('--threads', String(plan.threads));
  if (plan.batch !== undefined) args.push('--batch', String(plan.batch));
  if (plan.runId !== undefined) args.push('--run-id', plan.runId);
  if (plan.nonblocking) args.push('--nonblocking');
  const child = spawn(BLAST_PATH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`oma-blast exited (${String(code)}): ${err.trim()}`);
  return JSON.parse(out) as BlastResult;
}
