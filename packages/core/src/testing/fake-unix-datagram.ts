import { AgentError } from '../errors.js';
import type { DatagramBatch, UnixDatagramBinding, UnixDatagramOptions, UnixDatagramSocket } from '../ports/unix-datagram.js';

/** Sender credentials as SO_PASSCRED reports them. */
export interface DatagramCredentials {
  readonly pid: number;
  readonly uid: number;
}

/** What a fake send did: accepted into the receive queue, or refused because the queue was full. */
export interface FakeSendResult {
  readonly sent: number;
  readonly refused: number;
}

/** A path in the fake's file system: a socket (`live` while a fake socket is bound to it) or another file. */
export interface FakePathEntry {
  readonly kind: 'socket' | 'file';
  readonly mode: number;
  readonly gid: number;
}

export interface FakeUnixDatagramOptions {
  /**
   * Datagrams a socket's receive queue holds. Linux: net.unix.max_dgram_qlen + 1 (11 by default) for
   * AF_UNIX; the default here is the same.
   */
  readonly queueDatagrams?: number;
  /**
   * What a full queue does to a datagram: `refuse` (AF_UNIX: a non-blocking sender gets EAGAIN) or
   * `drop` (as UDP does: the sender is not told, the receiver's kernel drop counter grows; the fake
   * counts at once, where the kernel reports the count with the next datagram read).
   */
  readonly overflow?: 'refuse' | 'drop';
  /** Group names and their gids, for `group` given by name. */
  readonly groups?: Readonly<Record<string, number>>;
  /** Credentials of senders that give none. */
  readonly defaultCredentials?: DatagramCredentials;
}

/** recvmmsg calls per readable event, as in the real binding. */
const MAX_BATCHES_PER_EVENT = 8;
/** sun_path is 108 bytes with its NUL. */
const MAX_PATH_BYTES = 107;
const DEFAULT_QUEUE_DATAGRAMS = 11;

function fakeError(syscall: string, code: string, path: string, hint: string): AgentError {
  const cause = Object.assign(new Error(`${syscall} ${code}`), { code, syscall, path });
  return new AgentError('OMA_ERR_NATIVE', `${syscall} ${path}: ${code} (${hint})`, { cause });
}

interface Queued {
  readonly data: Buffer;
  readonly creds: DatagramCredentials;
}

/** One socket of the fake. Tests reach it through `FakeUnixDatagramBinding.socket(path)`. */
export class FakeUnixDatagramSocket implements UnixDatagramSocket {
  readonly queue: Queued[] = [];
  /** Batches delivered so far (recvmmsg calls that returned datagrams). */
  batches = 0;
  private drops = 0;
  private state: 'bound' | 'started' | 'closed' = 'bound';
  private paused = false;
  private scheduled = false;
  private onBatch: ((batch: DatagramBatch) => void) | undefined;
  private onError: ((err: Error) => void) | undefined;
  private slab: Omit<DatagramBatch, 'count'> | undefined;

  constructor(
    readonly path: string,
    readonly options: UnixDatagramOptions,
    private readonly binding: FakeUnixDatagramBinding,
  ) {}

  get isPaused(): boolean {
    return this.paused;
  }
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  start(onBatch: (batch: DatagramBatch) => void, onError: (err: Error) => void): void {
    if (this.state !== 'bound') throw new Error(`unix datagram socket ${this.path} is ${this.state === 'closed' ? 'closed' : 'already started'}`);
    const { batchSize, maxDatagramBytes } = this.options;
    const creds = this.options.passCredentials === true;
    this.slab = {
      data: Buffer.alloc(batchSize * maxDatagramBytes),
      offsets: Uint32Array.from({ length: batchSize }, (_, i) => i * maxDatagramBytes),
      lengths: new Uint32Array(batchSize),
      truncated: new Uint8Array(batchSize),
      pids: creds ? new Int32Array(batchSize) : undefined,
      uids: creds ? new Uint32Array(batchSize) : undefined,
    };
    this.onBatch = onBatch;
    this.onError = onError;
    this.state = 'started';
    this.schedule();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.schedule();
  }

  kernelDrops(): number {
    return this.drops;
  }

  close(): Promise<void> {
    this.closeNow();
    return Promise.resolve();
  }

  /** Queues datagrams as the kernel would (see `FakeUnixDatagramBinding.send`). */
  enqueue(datagrams: readonly Uint8Array[], creds: DatagramCredentials): FakeSendResult {
    const capacity = this.binding.options.queueDatagrams ?? DEFAULT_QUEUE_DATAGRAMS;
    let sent = 0;
    let refused = 0;
    for (const d of datagrams) {
      if (this.queue.length >= capacity) {
        if (this.binding.options.overflow === 'drop') {
          this.drops++;
          sent++;
        } else {
          refused++;
        }
        continue;
      }
      this.queue.push({ data: Buffer.from(d), creds });
      sent++;
    }
    this.schedule();
    return { sent, refused };
  }

  /** Counts `n` datagrams as dropped by the kernel (the receive queue overflowed). */
  simulateKernelDrops(n: number): void {
    this.drops += n;
  }

  /** Fails the socket as a broken fd would: it is closed and `onError` gets `err`. */
  fail(err: Error): void {
    const onError = this.onError;
    this.closeNow();
    onError?.(err);
  }

  private closeNow(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.queue.length = 0;
    this.binding.release(this);
  }

  /** A readable event: on the next turn of the event loop, as a poll callback would be. */
  private schedule(): void {
    if (this.scheduled || this.state !== 'started' || this.paused || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    const slab = this.slab;
    const onBatch = this.onBatch;
    if (slab === undefined || onBatch === undefined) return;
    const { batchSize, maxDatagramBytes } = this.options;
    for (let b = 0; b < MAX_BATCHES_PER_EVENT && this.state === 'started' && !this.paused && this.queue.length > 0; b++) {
      const taken = this.queue.splice(0, batchSize);
      taken.forEach((q, i) => {
        const n = Math.min(q.data.length, maxDatagramBytes);
        q.data.copy(slab.data, slab.offsets[i], 0, n);
        slab.lengths[i] = n;
        slab.truncated[i] = q.data.length > maxDatagramBytes ? 1 : 0;
        if (slab.pids !== undefined && slab.uids !== undefined) {
          slab.pids[i] = q.creds.pid;
          slab.uids[i] = q.creds.uid;
        }
      });
      this.batches++;
      try {
        onBatch({ ...slab, count: taken.length });
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
        return;
      }
    }
    this.schedule();
  }
}

/**
 * A deterministic, pure-TS unix datagram binding with an in-memory file system of socket paths.
 * Scriptable: `send` injects datagrams (with credentials), `failNextOpen` injects a bind error,
 * `socket(path).simulateKernelDrops(n)` / `.fail(err)` simulate the kernel, `createFile` and
 * `createStaleSocket` lay out the paths a bind meets. Delivery happens on a later turn of the event
 * loop, in batches of `batchSize`, as the real binding does.
 */
export class FakeUnixDatagramBinding implements UnixDatagramBinding {
  private readonly paths = new Map<string, FakePathEntry>();
  private readonly live = new Map<string, FakeUnixDatagramSocket>();
  private readonly openErrors: Array<{ code: string; hint: string }> = [];
  /** Every `open` call's options, in order. */
  readonly opened: UnixDatagramOptions[] = [];

  constructor(readonly options: FakeUnixDatagramOptions = {}) {}

  open(opts: UnixDatagramOptions): Promise<UnixDatagramSocket> {
    this.opened.push(opts);
    // A throw in the executor rejects the promise, as the real bind's errors do.
    return new Promise((resolve) => resolve(this.bind(opts)));
  }

  private bind(opts: UnixDatagramOptions): FakeUnixDatagramSocket {
    const { path } = opts;
    const injected = this.openErrors.shift();
    if (injected !== undefined) throw fakeError('bind', injected.code, path, injected.hint);
    const bytes = Buffer.byteLength(path);
    if (bytes > MAX_PATH_BYTES) {
      throw fakeError('bind', 'ENAMETOOLONG', path, `the path is ${bytes} bytes; a unix socket path holds at most ${MAX_PATH_BYTES}`);
    }
    let gid = 0;
    if (typeof opts.group === 'string') {
      const found = this.options.groups?.[opts.group];
      if (found === undefined) throw fakeError('getgrnam', 'ENOENT', path, `no group ${opts.group}`);
      gid = found;
    } else if (typeof opts.group === 'number') {
      gid = opts.group;
    }
    const existing = this.paths.get(path);
    if (existing !== undefined) {
      if (existing.kind !== 'socket') throw fakeError('bind', 'EEXIST', path, 'the path exists and is not a socket; it is left alone');
      if (this.live.has(path)) throw fakeError('bind', 'EADDRINUSE', path, 'another process receives on this socket');
    }
    const socket = new FakeUnixDatagramSocket(path, opts, this);
    this.paths.set(path, { kind: 'socket', mode: opts.mode ?? 0o755, gid });
    this.live.set(path, socket);
    return socket;
  }

  /** The next `open` fails with this errno code (e.g. `EACCES`), as the real bind would. */
  failNextOpen(code: string, hint = 'injected'): void {
    this.openErrors.push({ code, hint });
  }

  /** The open socket bound to `path`, if any. */
  socket(path: string): FakeUnixDatagramSocket | undefined {
    return this.live.get(path);
  }

  /**
   * Sends datagrams to `path` as a non-blocking sender would: into the receive queue while it has
   * room; then refused (or, with `overflow: 'drop'`, counted as kernel drops). Throws ECONNREFUSED
   * when no open socket is bound there.
   */
  send(path: string, datagrams: readonly Uint8Array[], creds?: DatagramCredentials): FakeSendResult {
    const socket = this.live.get(path);
    if (socket === undefined) {
      throw fakeError('sendmmsg', this.paths.has(path) ? 'ECONNREFUSED' : 'ENOENT', path, 'nothing receives on this socket');
    }
    return socket.enqueue(datagrams, creds ?? this.options.defaultCredentials ?? { pid: 1, uid: 0 });
  }

  /** The path's entry in the fake file system. */
  stat(path: string): FakePathEntry | undefined {
    return this.paths.get(path);
  }

  /** Puts a regular file at `path`. */
  createFile(path: string): void {
    this.paths.set(path, { kind: 'file', mode: 0o644, gid: 0 });
  }

  /** Leaves a socket file at `path` that nobody receives on, as a crashed process would. */
  createStaleSocket(path: string): void {
    this.paths.set(path, { kind: 'socket', mode: 0o755, gid: 0 });
  }

  /** Called by a socket as it closes: its path is removed. */
  release(socket: FakeUnixDatagramSocket): void {
    if (this.live.get(socket.path) === socket) {
      this.live.delete(socket.path);
      this.paths.delete(socket.path);
    }
  }
}
