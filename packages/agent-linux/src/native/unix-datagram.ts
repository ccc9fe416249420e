import { constants } from 'node:os';
import { AgentError } from '@oma/core';
import { datagramAddress, datagramPort, UDP_NAME_BYTES } from '@oma/core';
import type {
  DatagramBatch,
  UdpDatagramBatch,
  UdpDatagramBinding,
  UdpDatagramOptions,
  UdpDatagramSocket,
  UnixDatagramBinding,
  UnixDatagramOptions,
  UnixDatagramSocket,
} from '@oma/core';
import { loadAddon } from './load.js';

/** What the addon returns for a failed operation (success is `undefined`). */
interface NativeFailure {
  readonly errno: number;
  readonly syscall: string;
  /** `not-socket`, `in-use`, `probe`, `no such group`: which case of a bind failure it was. */
  readonly reason?: string;
}

interface NativeReceiver {
  bind(path: string, mode: number, group: string | number, rcvbufBytes: number, passCred: boolean): NativeFailure | undefined;
  bindInet(host: string, port: number, rcvbufBytes: number): NativeFailure | undefined;
  port(): number;
  start(
    slab: Buffer,
    offsets: Uint32Array,
    lengths: Uint32Array,
    truncated: Uint8Array,
    pids: Int32Array | null,
    uids: Uint32Array | null,
    slotBytes: number,
    batchSize: number,
    maxBatchesPerEvent: number,
    onBatch: (count: number) => void,
    onError: (errno: number, syscall: string) => void,
    names?: Uint8Array | null,
  ): NativeFailure | undefined;
  pause(): void;
  resume(): NativeFailure | undefined;
  drops(): number;
  close(unlinkPath?: boolean): void;
}

interface NativeSender {
  open(blocking: boolean, sndbufBytes: number): NativeFailure | undefined;
  send(path: string, slab: Buffer, lengths: Uint32Array, count: number, result: Uint32Array): NativeFailure | undefined;
  close(): void;
}

/** The `unixdgram` addon's surface (native/unixdgram/src/linux/unixdgram.cc). */
interface UnixDgramAddon {
  readonly Receiver: new () => NativeReceiver;
  readonly Sender: new () => NativeSender;
  /** Longest socket path in bytes (sun_path less its NUL). */
  readonly maxPathBytes: number;
}

/**
 * recvmmsg calls per readable event at most. The poll is level-triggered, so what is left is read on
 * the next turn of the event loop, after timers and other sockets had theirs: one flood cannot starve them.
 */
export const MAX_BATCHES_PER_EVENT = 8;

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The symbolic name of an errno value (`EADDRINUSE`), or `errno <n>` when Node does not know it. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

const HINTS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'another process receives on this socket',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a parent of the path is not a directory',
  EROFS: 'read-only file system',
  ECONNREFUSED: 'nothing receives on this socket',
};

/**
 * Maps an addon failure to an `OMA_ERR_NATIVE` error whose message names the syscall, the path and
 * the errno, and whose `cause` is errno-shaped like Node's own (`code`, `errno`, `syscall`, `path`),
 * so callers branch on `err.cause.code`.
 */
export function unixDatagramError(failure: NativeFailure, path: string, maxPathBytes: number, group?: string | number): AgentError {
  const name = errnoName(failure.errno);
  let hint = HINTS[name];
  if (name === 'ENAMETOOLONG') {
    hint = `the path is ${Buffer.byteLength(path)} bytes; a unix socket path holds at most ${maxPathBytes}`;
  } else if (failure.reason === 'not-socket') {
    hint = 'the path exists and is not a socket; it is left alone';
  } else if (failure.syscall === 'getgrnam') {
    hint = `no group ${String(group)}`;
  } else if (failure.reason === 'probe') {
    hint = 'a socket exists at the path and could not be probed; it is left alone';
  }
  const cause = Object.assign(new Error(`${failure.syscall} ${name}`), {
    code: name,
    errno: -failure.errno,
    syscall: failure.syscall,
    path,
  });
  return new AgentError('OMA_ERR_NATIVE', `${failure.syscall} ${path}: ${name}${hint === undefined ? '' : ` (${hint})`}`, {
    cause,
  });
}

function checkSizes(opts: UnixDatagramOptions): void {
  if (!Number.isInteger(opts.maxDatagramBytes) || opts.maxDatagramBytes < 1) {
    throw new RangeError(`maxDatagramBytes must be a positive integer, got ${opts.maxDatagramBytes}`);
  }
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${opts.batchSize}`);
  }
  if (opts.maxDatagramBytes * opts.batchSize > 2 ** 31) {
    throw new RangeError('maxDatagramBytes × batchSize must fit a 2 GiB slab');
  }
}

/** The slab and arrays one socket's batches are delivered in (its own memory, reused for every batch). */
interface Slab {
  readonly data: Buffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly truncated: Uint8Array;
  readonly pids: Int32Array | undefined;
  readonly uids: Uint32Array | undefined;
}

class NativeUnixDatagramSocket implements UnixDatagramSocket {
  private state: 'bound' | 'started' | 'closed' = 'bound';
  private lastDrops = 0;

  constructor(
    readonly path: string,
    private readonly receiver: NativeReceiver,
    private readonly opts: UnixDatagramOptions,
    private readonly maxPathBytes: number,
  ) {}

  start(onBatch: (batch: DatagramBatch) => void, onError: (err: Error) => void): void {
    this.startWith(null, (count, slab) => onBatch({ count, ...slab }), onError);
  }

  /** Starts the receiver; `names` (UDP) receives each datagram's sender address. */
  protected startWith(names: Uint8Array | null, deliver: (count: number, slab: Slab) => void, onError: (err: Error) => void): void {
    if (this.state !== 'bound') throw new Error(`unix datagram socket ${this.path} is ${this.state === 'closed' ? 'closed' : 'already started'}`);
    const { batchSize, maxDatagramBytes } = this.opts;
    // Slots of maxDatagramBytes, one per datagram of a batch; its own memory (not the Buffer pool),
    // reused for every batch.
    const slab: Slab = {
      data: Buffer.allocUnsafeSlow(batchSize * maxDatagramBytes),
      offsets: new Uint32Array(batchSize),
      lengths: new Uint32Array(batchSize),
      truncated: new Uint8Array(batchSize),
      pids: this.opts.passCredentials === true ? new Int32Array(batchSize) : undefined,
      uids: this.opts.passCredentials === true ? new Uint32Array(batchSize) : undefined,
    };
    const fail = (err: Error): void => {
      this.closeNow();
      onError(err);
    };
    const failure = this.receiver.start(
      slab.data,
      slab.offsets,
      slab.lengths,
      slab.truncated,
      slab.pids ?? null,
      slab.uids ?? null,
      maxDatagramBytes,
      batchSize,
      MAX_BATCHES_PER_EVENT,
      (count) => {
        try {
          deliver(count, slab);
        } catch (err) {
          fail(err instanceof Error ? err : new Error(String(err)));
        }
      },
      (errno, syscall) => {
        try {
          fail(unixDatagramError({ errno, syscall }, this.path, this.maxPathBytes));
        } catch {
          // onError itself threw: nothing is left to tell.
        }
      },
      names,
    );
    if (failure !== undefined) {
      this.closeNow();
      throw unixDatagramError(failure, this.path, this.maxPathBytes);
    }
    this.state = 'started';
  }

  pause(): void {
    if (this.state !== 'closed') this.receiver.pause();
  }

  resume(): void {
    if (this.state === 'closed') return;
    const failure = this.receiver.resume();
    if (failure !== undefined) throw unixDatagramError(failure, this.path, this.maxPathBytes);
  }

  kernelDrops(): number {
    return this.state === 'closed' ? this.lastDrops : this.receiver.drops();
  }

  close(): Promise<void> {
    this.closeNow();
    return Promise.resolve();
  }

  private closeNow(): void {
    if (this.state === 'closed') return;
    this.lastDrops = this.receiver.drops();
    this.state = 'closed';
    this.receiver.close(true);
  }
}

/**
 * The unix datagram port over the `unixdgram` addon: a non-blocking socket polled on the JS thread's
 * event loop, drained with recvmmsg into one slab per socket. The addon is loaded on first `open`.
 */
export function nativeUnixDatagram(): UnixDatagramBinding {
  return {
    open(opts: UnixDatagramOptions): Promise<UnixDatagramSocket> {
      // A throw in the executor (bad sizes, a missing build, a failed bind) rejects the promise.
      return new Promise((resolve) => {
        checkSizes(opts);
        const addon = loadAddon<UnixDgramAddon>('unixdgram');
        const receiver = new addon.Receiver();
        const failure = receiver.bind(
          opts.path,
          opts.mode ?? -1,
          opts.group ?? -1,
          opts.receiveBufferBytes ?? 0,
          opts.passCredentials === true,
        );
        if (failure !== undefined) throw unixDatagramError(failure, opts.path, addon.maxPathBytes, opts.group);
        resolve(new NativeUnixDatagramSocket(opts.path, receiver, opts, addon.maxPathBytes));
      });
    },
  };
}

class NativeUdpDatagramSocket extends NativeUnixDatagramSocket implements UdpDatagramSocket {
  constructor(
    readonly host: string,
    readonly port: number,
    receiver: NativeReceiver,
    private readonly udpOpts: UdpDatagramOptions,
    maxPathBytes: number,
  ) {
    super(`${host}:${port}`, receiver, { ...udpOpts, path: `${host}:${port}` }, maxPathBytes);
  }

  override start(onBatch: (batch: UdpDatagramBatch) => void, onError: (err: Error) => void): void {
    const names = new Uint8Array(this.udpOpts.batchSize * UDP_NAME_BYTES);
    const address = (i: number): string => datagramAddress(names, i);
    const port = (i: number): number => datagramPort(names, i);
    this.startWith(names, (count, slab) => onBatch({ count, ...slab, address, port }), onError);
  }
}

/**
 * A UDP socket over the same addon: recvmmsg batches into one slab, one JS callback per batch, where
 * `node:dgram` makes one callback (and one Buffer) per datagram; the sender's address of each datagram
 * comes in an array beside the slab. The kernel's drop count (SO_RXQ_OVFL) comes with each received
 * datagram, so `kernelDrops()` is up to date as of the last datagram read.
 */
export function openUdpDatagram(opts: UdpDatagramOptions): Promise<UdpDatagramSocket> {
  return new Promise((resolve) => {
    checkSizes({ ...opts, path: '' });
    const addon = loadAddon<UnixDgramAddon>('unixdgram');
    const receiver = new addon.Receiver();
    const failure = receiver.bindInet(opts.host, opts.port, opts.receiveBufferBytes ?? 0);
    if (failure !== undefined) throw unixDatagramError(failure, `${opts.host}:${opts.port}`, addon.maxPathBytes);
    resolve(new NativeUdpDatagramSocket(opts.host, receiver.port(), receiver, opts, addon.maxPathBytes));
  });
}

/** The UDP datagram port over the `unixdgram` addon (`openUdpDatagram`); the addon is loaded on first `open`. */
export function nativeUdpDatagram(): UdpDatagramBinding {
  return { open: openUdpDatagram };
}

export interface UnixDatagramSenderOptions {
  /** Block when the receiver's queue is full (as syslog(3) does) instead of counting the datagram as refused. */
  readonly blocking?: boolean;
  /** SO_SNDBUF in bytes (0 or absent: the system default). */
  readonly sendBufferBytes?: number;
}

/** What one send did: datagrams accepted by the kernel, and those refused (non-blocking: queue full). */
export interface UnixDatagramSendResult {
  readonly sent: number;
  /** Refused with EAGAIN: the receiver's queue was full (net.unix.max_dgram_qlen) or the send buffer was. */
  readonly eagain: number;
  /** Refused with ENOBUFS. */
  readonly enobufs: number;
}

/**
 * A client socket that sends many datagrams per syscall (sendmmsg), for tests and load generators.
 * A blocking sender blocks the thread it runs on while the receiver's queue is full: use one in a
 * worker or another process when the receiver is in the same thread.
 */
export class UnixDatagramSender {
  private readonly result = new Uint32Array(3);
  private closed = false;

  private constructor(
    private readonly native: NativeSender,
    private readonly maxPathBytes: number,
  ) {}

  static open(opts: UnixDatagramSenderOptions = {}): UnixDatagramSender {
    const addon = loadAddon<UnixDgramAddon>('unixdgram');
    const native = new addon.Sender();
    const failure = native.open(opts.blocking === true, opts.sendBufferBytes ?? 0);
    if (failure !== undefined) throw unixDatagramError(failure, '(sender)', addon.maxPathBytes);
    return new UnixDatagramSender(native, addon.maxPathBytes);
  }

  /** Sends `count` datagrams laid end to end in `slab` (datagram i is the next `lengths[i]` bytes) to `path`. */
  sendSlab(path: string, slab: Buffer, lengths: Uint32Array, count = lengths.length): UnixDatagramSendResult {
    if (this.closed) throw new Error('unix datagram sender is closed');
    const failure = this.native.send(path, slab, lengths, count, this.result);
    if (failure !== undefined) throw unixDatagramError(failure, path, this.maxPathBytes);
    return { sent: this.result[0]!, eagain: this.result[1]!, enobufs: this.result[2]! };
  }

  /** Sends each buffer as one datagram to `path` (copies them into one slab first). */
  send(path: string, datagrams: readonly Uint8Array[]): UnixDatagramSendResult {
    const lengths = Uint32Array.from(datagrams, (d) => d.byteLength);
    return this.sendSlab(path, Buffer.concat(datagrams), lengths);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }
}
