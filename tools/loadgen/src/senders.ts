import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { assertLoopback } from './loopback.js';
import { MessageFactory, type MessageOptions } from './messages.js';
import { Pacer } from './pacer.js';

/** The most messages and the longest run one send accepts: a generator is always bounded. */
export const MAX_COUNT = 100_000_000;
export const MAX_DURATION_SEC = 3600;

export interface SendPlan extends MessageOptions {
  /** Messages to send (at most MAX_COUNT). */
  readonly count: number;
  /** Messages per second; 0 sends as fast as the target takes them. */
  readonly ratePerSec: number;
  /** Stop after this many seconds even if fewer than `count` messages went (default and at most MAX_DURATION_SEC). */
  readonly maxDurationSec?: number;
  /** Messages taken from the pacer at a time (default 256). */
  readonly batch?: number;
  /** The sequence number of the first message (default 0): parallel senders number disjoint ranges. */
  readonly firstSeq?: number;
}

export interface SendResult {
  /** Messages handed to the kernel. */
  readonly sent: number;
  readonly bytes: number;
  /** Sends the kernel refused (e.g. ECONNREFUSED on UDP, ENOBUFS). */
  readonly errors: number;
  readonly elapsedSec: number;
  /** sent / elapsedSec. */
  readonly achievedRate: number;
}

function checkPlan(plan: SendPlan): void {
  if (!Number.isInteger(plan.count) || plan.count < 0 || plan.count > MAX_COUNT) throw new Error(`count must be a whole number from 0 to ${MAX_COUNT}`);
  if (!(plan.ratePerSec >= 0)) throw new Error('rate must be 0 (unpaced) or more');
  if (plan.maxDurationSec !== undefined && !(plan.maxDurationSec > 0 && plan.maxDurationSec <= MAX_DURATION_SEC)) throw new Error(`duration must be over 0 and at most ${MAX_DURATION_SEC} s`);
}

/**
 * The pacing loop shared by every transport: renders `n` messages per turn into `emit`, until `count`
 * went or the duration ran out. `emit` resolves when the transport can take more.
 */
async function paced(plan: SendPlan, emit: (factory: MessageFactory, firstSeq: number, n: number) => Promise<void>): Promise<{ sent: number; elapsedSec: number }> {
  checkPlan(plan);
  const factory = new MessageFactory(plan);
  const pacer = new Pacer(plan.ratePerSec);
  const maxSec = plan.maxDurationSec ?? MAX_DURATION_SEC;
  const batch = plan.batch ?? 256;
  const firstSeq = plan.firstSeq ?? 0;
  let sent = 0;
  while (sent < plan.count && pacer.elapsedSec() < maxSec) {
    const n = await pacer.take(Math.min(batch, plan.count - sent));
    await emit(factory, firstSeq + sent, n);
    sent += n;
  }
  return { sent, elapsedSec: pacer.elapsedSec() };
}

function result(sent: number, bytes: number, errors: number, elapsedSec: number): SendResult {
  return { sent, bytes, errors, elapsedSec, achievedRate: elapsedSec > 0 ? sent / elapsedSec : 0 };
}

/** One datagram per message to a UDP port on loopback. */
export async function sendUdp(target: { host: string; port: number }, plan: SendPlan): Promise<SendResult> {
  assertLoopback(target.host);
  const socket = createSocket(isIPv6(target.host) ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(target.port, target.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  let errors = 0;
  let bytes = 0;
  // A connected UDP socket reports ICMP errors (no listener) on a later send: counted in that send's callback.
  socket.on('error', () => undefined);
  try {
    const { sent, elapsedSec } = await paced(plan, async (factory, first, n) => {
      // One slab per turn: a datagram's buffer must live until its send completes.
      const slab = Buffer.allocUnsafe(factory.sizeBytes * n);
      const done: Array<Promise<void>> = [];
      for (let i = 0; i < n; i++) {
        factory.writeTo(first + i, slab, i * factory.sizeBytes);
        done.push(new Promise((r) => socket.send(slab.subarray(i * factory.sizeBytes, (i + 1) * factory.sizeBytes), (err) => {
          if (err) errors++;
          else bytes += factory.sizeBytes;
          r();
        })));
      }
      await Promise.all(done);
    });
    return result(sent - errors, bytes, errors, elapsedSec);
  } finally {
    await new Promise<void>((r) => socket.close(() => r()));
  }
}

export type TcpFraming = 'lf' | 'octet-counted';

/** Messages over one TCP connection, LF-terminated or octet-counted (RFC 6587); waits for 'drain' when the peer is slow. */
export async function sendTcp(target: { host: string; port: number; framing: TcpFraming }, plan: SendPlan): Promise<SendResult> {
  assertLoopback(target.host);
  const socket = connect({ host: target.host, port: target.port });
  socket.setNoDelay(false);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  let failure: Error | undefined;
  socket.on('error', (e) => (failure = e));
  let bytes = 0;
  try {
    const { sent, elapsedSec } = await paced(plan, async (factory, first, n) => {
      if (failure) throw failure;
      const prefix = target.framing === 'octet-counted' ? Buffer.from(`${factory.sizeBytes} `) : Buffer.alloc(0);
      const frame = prefix.length + factory.sizeBytes + (target.framing === 'lf' ? 1 : 0);
      const chunk = Buffer.allocUnsafe(frame * n);
      for (let i = 0; i < n; i++) {
        prefix.copy(chunk, i * frame);
        factory.writeTo(first + i, chunk, i * frame + prefix.length);
        if (target.framing === 'lf') chunk[(i + 1) * frame - 1] = 0x0a;
      }
      bytes += chunk.length;
      if (!socket.write(chunk)) await new Promise<void>((r, j) => {
        const onClose = (): void => j(failure ?? new Error('connection closed by the peer'));
        socket.once('close', onClose);
        socket.once('drain', () => {
          socket.off('close', onClose);
          r();
        });
      });
    });
    await new Promise<void>((r) => socket.end(() => r()));
    if (failure) throw failure;
    return result(sent, bytes, 0, elapsedSec);
  } finally {
    socket.destroy();
  }
}

/**
 * Sends messages to a unix datagram socket. Node's dgram cannot open AF_UNIX datagram sockets, so the
 * transport is pluggable: a native sender can take the place of the default, which pipes the messages'
 * bodies to util-linux `logger -u PATH` (one line each; logger adds its own RFC 3164 header).
 */
export interface UnixDatagramSender {
  /** Sends each buffer as one datagram; resolves when the sender can take more. */
  send(messages: readonly Buffer[]): Promise<void>;
  /** Resolves when every message left. */
  close(): Promise<void>;
}

/** The `logger` fallback sender (util-linux): messages must not contain line feeds. */
export function loggerUnixSender(socket: string, opts: { priority?: string; tag?: string; logger?: string } = {}): UnixDatagramSender {
  const child = spawn(opts.logger ?? 'logger', ['-u', socket, '-p', opts.priority ?? 'local0.info', '-t', opts.tag ?? 'loadgen'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((r) => {
    child.once('error', (e) => {
      stderr += e.message;
      r(null);
    });
    child.once('exit', (code) => r(code));
  });
  const nl = Buffer.from('\n');
  return {
    async send(messages) {
      const parts: Buffer[] = [];
      for (const m of messages) parts.push(m, nl);
      if (!child.stdin.write(Buffer.concat(parts))) {
        await Promise.race([new Promise((r) => child.stdin.once('drain', r)), exited]);
      }
      if (child.exitCode !== null) throw new Error(`logger exited (${child.exitCode}): ${stderr.trim()}`);
    },
    async close() {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`logger exited (${code}): ${stderr.trim()}`);
    },
  };
}

/** Messages to a unix datagram socket through `sender` (default: the logger fallback, with `format: 'body'`). */
export async function sendUnixDgram(target: { socket: string; sender?: UnixDatagramSender }, plan: SendPlan): Promise<SendResult> {
  const sender = target.sender ?? loggerUnixSender(target.socket, { ...(plan.tag === undefined ? {} : { tag: plan.tag }) });
  let bytes = 0;
  let outcome: { sent: number; elapsedSec: number };
  try {
    outcome = await paced(plan, async (factory, first, n) => {
      const batch: Buffer[] = [];
      for (let i = 0; i < n; i++) batch.push(factory.render(first + i));
      bytes += n * factory.sizeBytes;
      await sender.send(batch);
    });
  } finally {
    await sender.close();
  }
  return result(outcome.sent, bytes, 0, outcome.elapsedSec);
}
