import type { DatagramBatch, UnixDatagramBinding, UnixDatagramSocket } from '@oma/core';
import type { SyslogConfig } from '../config.js';
import type { FrameSink, ListenerMetrics } from './peers.js';

type UnixConfig = NonNullable<SyslogConfig['unix']>;

/** Datagrams drained per batch from the unix socket. */
const BATCH_SIZE = 256;

/**
 * Receives syslog datagrams on a unix datagram socket through the platform's `UnixDatagramBinding`
 * (many datagrams per crossing). Pausing leaves datagrams in the kernel's queue; what the kernel drops
 * when that queue is full is counted (kernel drops).
 */
export class UnixListener {
  private socket: UnixDatagramSocket | undefined;
  private kernelDrops = 0;

  constructor(
    private readonly config: UnixConfig,
    private readonly maxMessageBytes: number,
    private readonly binding: UnixDatagramBinding,
    private readonly sink: FrameSink,
    private readonly metrics: ListenerMetrics,
  ) {}

  async open(onError: (err: Error) => void): Promise<string> {
    const socket = await this.binding.open({
      path: this.config.path,
      mode: this.config.mode,
      ...(this.config.group !== undefined ? { group: this.config.group } : {}),
      receiveBufferBytes: this.config.receiveBufferBytes,
      maxDatagramBytes: this.maxMessageBytes,
      batchSize: BATCH_SIZE,
    });
    this.socket = socket;
    const sink = this.sink;
    const peer = sink.peer('127.0.0.1');
    socket.start((batch: DatagramBatch) => {
      for (let i = 0; i < batch.count; i++) {
        const off = batch.offsets[i]!;
        const len = batch.lengths[i]!;
        sink.received(len);
        if (batch.truncated[i] === 1) sink.dropped('message_truncated');
        sink.frame(batch.data, off, off + len, peer);
      }
      this.countKernelDrops();
    }, onError);
    return socket.path;
  }

  /** Adds what the kernel dropped since the last look to the metrics. */
  countKernelDrops(): void {
    const s = this.socket;
    if (!s) return;
    const n = s.kernelDrops();
    if (n > this.kernelDrops) {
      this.metrics.kernelDrops(n - this.kernelDrops);
      this.kernelDrops = n;
    }
  }

  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  async close(): Promise<void> {
    this.countKernelDrops();
    const s = this.socket;
    this.socket = undefined;
    await s?.close();
  }
}
