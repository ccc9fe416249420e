import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendBlast } from './blast.js';
import { cpuSeconds, udpSocketDrops } from './proc.js';
import { sendParallel } from './parallel.js';
import { sendUdp } from './senders.js';

/**
 * rsyslog's own loss-free rate on this machine, the yardstick of "at the rate rsyslog handles without loss,
 * OMA loses nothing": a private rsyslogd (its own config, pid file and work directory in a temp folder)
 * with imudp on a loopback port writing every message with omfile; numbered messages sent at a fixed rate
 * for a fixed time; the lines in the file counted; CPU per message from /proc/<pid>/stat (utime + stime).
 */

export interface RsyslogRateOptions {
  /** The rsyslogd binary (default: rsyslogd on PATH or /usr/sbin/rsyslogd). */
  readonly rsyslogd?: string;
  /** Seconds of sending per step. */
  readonly durationSec: number;
  /** Bytes per message (RFC 3164 header included). */
  readonly sizeBytes: number;
  /** imudp's receive buffer (rcvbufSize; beyond net.core.rmem_max only as root). */
  readonly rcvbufBytes: number;
  /** How long the file may stay unchanged before the step counts what it has (default 2 s). */
  readonly settleMs?: number;
  /** Sender threads (default 1; one sends about 150-200k msg/s, or 400-500k with `fast`). */
  readonly senders?: number;
  /** Send with oma-blast (sendmmsg batches, RFC 3164 and 5424 alternately) instead of Node's dgram. */
  readonly fast?: boolean;
}

export interface RsyslogStep {
  readonly requestedRate: number;
  /** The rate the sender reached (it shares the CPU with rsyslog). */
  readonly sendRate: number;
  readonly sent: number;
  /** Lines rsyslog wrote. */
  readonly written: number;
  readonly lost: number;
  /** Datagrams the kernel dropped at rsyslog's socket (receive buffer full). */
  readonly kernelDrops: number;
  /** rsyslogd's CPU seconds over the step (from the first message until the file settled). */
  readonly cpuSec: number;
  /** cpuSec per written message, in microseconds. */
  readonly cpuUsPerMsg: number;
  readonly lossFree: boolean;
  /** The sender reached less than 97% of the requested rate: the step measures the sender, not rsyslog. */
  readonly senderLimited: boolean;
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Counts the line feeds of a growing file, reading only what was appended since the last call. */
class LineCounter {
  private offset = 0;
  lines = 0;
  private readonly chunk = Buffer.allocUnsafe(1 << 20);

  constructor(private readonly file: string) {}

  update(): number {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return this.lines;
    }
    try {
      for (;;) {
        const n = readSync(fd, this.chunk, 0, this.chunk.length, this.offset);
        if (n === 0) break;
        this.offset += n;
        for (let at = this.chunk.indexOf(0x0a); at >= 0 && at < n; at = this.chunk.indexOf(0x0a, at + 1)) this.lines++;
      }
    } finally {
      closeSync(fd);
    }
    return this.lines;
  }
}

async function startRsyslogd(binary: string, dir: string, port: number, rcvbufBytes: number, out: string): Promise<ChildProcess> {
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(conf, [
    `global(workDirectory="${dir}")`,
    'module(load="imudp")',
    `input(type="imudp" address="127.0.0.1" port="${port}" ruleset="loadgen" rcvbufSize="${rcvbufBytes}")`,
    `ruleset(name="loadgen") { action(type="omfile" file="${out}") }`,
    '',
  ].join('\n'));
  const child = spawn(binary, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const deadline = Date.now() + 10_000;
  while (!udpSocketDrops(port).bound) {
    if (child.exitCode !== null) throw new Error(`rsyslogd exited (${child.exitCode}) at start: ${stderr.trim()}`);
    if (Date.now() > deadline) throw new Error('rsyslogd did not bind its UDP port within 10 s');
    await sleep(20);
  }
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** One step: `rate` messages per second for `durationSec` through a fresh private rsyslogd. */
export async function measureRsyslogUdp(rate: number, opts: RsyslogRateOptions): Promise<RsyslogStep> {
  const dir = mkdtempSync(join(tmpdir(), 'oma-loadgen-rsyslog-'));
  const out = join(dir, 'out.log');
  let child: ChildProcess | undefined;
  try {
    const port = await freeUdpPort();
    child = await startRsyslogd(opts.rsyslogd ?? 'rsyslogd', dir, port, opts.rcvbufBytes, out);
    const pid = child.pid ?? 0;
    const drops0 = udpSocketDrops(port).drops;
    const cpu0 = cpuSeconds(pid) ?? 0;
    const count = Math.round(rate * opts.durationSec);
    const plan = { format: 'rfc3164', sizeBytes: opts.sizeBytes, count, ratePerSec: rate, runId: 'rsyslograte' } as const;
    const target = { host: '127.0.0.1', port };
    const sent = opts.fast
      ? await sendBlast({ transport: 'udp', ...target }, { ratePerSec: rate, count, sizeBytes: opts.sizeBytes, threads: opts.senders ?? 1, runId: plan.runId })
      : (opts.senders ?? 1) > 1 ? await sendParallel({ kind: 'udp', target, plan }, opts.senders ?? 1) : await sendUdp(target, plan);
    const counter = new LineCounter(out);
    let last = counter.update();
    let lastChange = Date.now();
    while (last < sent.sent && Date.now() - lastChange < (opts.settleMs ?? 2000)) {
      await sleep(100);
      const now = counter.update();
      if (now !== last) {
        last = now;
        lastChange = Date.now();
      }
    }
    const cpuSec = (cpuSeconds(pid) ?? cpu0) - cpu0;
    const kernelDrops = udpSocketDrops(port).drops - drops0;
    return {
      requestedRate: rate,
      sendRate: Math.round(sent.achievedRate),
      sent: sent.sent,
      written: last,
      lost: sent.sent - last,
      kernelDrops,
      cpuSec,
      cpuUsPerMsg: last > 0 ? (cpuSec * 1e6) / last : 0,
      lossFree: last >= sent.sent,
      senderLimited: sent.achievedRate < rate * 0.97,
    };
  } finally {
    if (child) await stop(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SearchOptions extends RsyslogRateOptions {
  /** The first rate tried; doubled while rsyslog loses nothing. */
  readonly startRate: number;
  /** No step above this rate. */
  readonly maxRate: number;
  /** Bisection steps between the last loss-free rate and the first lossy one. */
  readonly refineSteps: number;
}

/**
 * The highest rate at which rsyslog wrote every message: doubles from startRate until a step loses
 * messages (or the sender cannot keep up, or maxRate), then bisects `refineSteps` times. `best` is the
 * loss-free step with the highest rate actually sent (a sender-limited step proves only the rate it sent
 * at, its `sendRate`); undefined when every step lost messages.
 */
export async function findRsyslogLossFreeRate(opts: SearchOptions, onStep: (s: RsyslogStep) => void = () => undefined): Promise<{ steps: RsyslogStep[]; best: RsyslogStep | undefined }> {
  const steps: RsyslogStep[] = [];
  let best: RsyslogStep | undefined;
  const run = async (rate: number): Promise<RsyslogStep> => {
    const s = await measureRsyslogUdp(Math.round(rate), opts);
    steps.push(s);
    onStep(s);
    if (s.lossFree && (best === undefined || s.sendRate > best.sendRate)) best = s;
    return s;
  };
  let lastGood: number | undefined;
  let bad: number | undefined;
  for (let rate = opts.startRate; rate <= opts.maxRate; rate *= 2) {
    const s = await run(rate);
    if (!s.lossFree) {
      bad = rate;
      break;
    }
    lastGood = rate;
    if (s.senderLimited) break;
  }
  if (bad !== undefined) {
    let lo = lastGood ?? 0;
    let hi = bad;
    for (let i = 0; i < opts.refineSteps && hi - lo > hi * 0.02; i++) {
      const s = await run((lo + hi) / 2);
      if (s.lossFree) lo = s.requestedRate;
      else hi = s.requestedRate;
    }
  }
  return { steps, best };
}
