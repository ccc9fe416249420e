/**
 * AF_UNIX SOCK_DGRAM sockets (such as /dev/log), which Node's `dgram` cannot open. On Linux the
 * real binding is the `unixdgram` addon (agent-linux); `@oma/core/testing` has a pure-TS fake, and
 * both pass the same contract suite.
 */

export interface UnixDatagramOptions {
  /** Socket path to bind. A stale socket file left by an earlier run is replaced; any other file is an error. */
  readonly path: string;
  /** File mode of the socket path (who may send), e.g. 0o666 for /dev/log, 0o660 with `group`. */
  readonly mode?: number;
  /** Group owning the socket path (name or gid); senders in that group may write when `mode` allows. */
  readonly group?: string | number;
  /** SO_RCVBUF in bytes (the kernel doubles it and caps it at net.core.rmem_max). */
  readonly receiveBufferBytes?: number;
  /** Largest datagram kept whole; longer ones arrive cut to this size, flagged in `truncated`. */
  readonly maxDatagramBytes: number;
  /** Datagrams drained per batch at most (one `recvmmsg` call fills up to this many). */
  readonly batchSize: number;
  /** Ask the kernel for each sender's pid, uid and gid (SO_PASSCRED). */
  readonly passCredentials?: boolean;
}

/**
 * Datagrams drained in one go, as views over the socket's own slab. Valid only during the `onBatch`
 * call: the slab is reused for the next batch, so copy (or encode) what you keep.
 */
export interface DatagramBatch {
  readonly count: number;
  /** The slab: datagram i is `data.subarray(offsets[i], offsets[i] + lengths[i])`. */
  readonly data: Buffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** 1 where datagram i was longer than `maxDatagramBytes` and was cut. */
  readonly truncated: Uint8Array;
  /** Sender pid and uid per datagram, when `passCredentials` was set (0 when the kernel gave none). */
  readonly pids?: Int32Array;
  readonly uids?: Uint32Array;
}

export interface UnixDatagramSocket {
  /** The bound path. */
  readonly path: string;
  /**
   * Delivers datagrams as they arrive, many per call, on the JS thread. `onError` gets a failure of
   * the socket after it was opened (the socket is closed then).
   */
  start(onBatch: (batch: DatagramBatch) => void, onError: (err: Error) => void): void;
  /** Stops reading: datagrams wait in the kernel (blocking senders wait; the kernel drops for others). */
  pause(): void;
  resume(): void;
  /**
   * Datagrams the kernel dropped because the receive queue was full (SO_RXQ_OVFL), since open, as of
   * the last datagram read (the kernel reports the count with each one). On a unix socket the kernel
   * refuses senders instead of dropping (blocking senders wait, non-blocking ones get EAGAIN), so
   * there it stays 0.
   */
  kernelDrops(): number;
  /** Stops reading, closes the socket and removes its path. */
  close(): Promise<void>;
}

/** Opens unix datagram sockets: the port a platform binds (agent-linux: the `unixdgram` addon). */
export interface UnixDatagramBinding {
  /** Binds `opts.path`; rejects with a clear error (EADDRINUSE, EACCES, a path too long for sun_path). */
  open(opts: UnixDatagramOptions): Promise<UnixDatagramSocket>;
}
