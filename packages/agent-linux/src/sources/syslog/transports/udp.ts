import { createSocket, type Socket } from 'node:dgram';
import { isIPv6, type AddressInfo } from 'node:net';
import type { UdpDatagramBatch, UdpDatagramBinding, UdpDatagramSocket } from '@oma/core';
import type { SyslogConfig } from '../config.js';
import type { FrameSink, ListenerMetrics } from './peers.js';

type UdpConfig = NonNullable<SyslogConfig['udp']>;

/** Datagrams drained per batch (one recvmmsg call) from the UDP socket. */
const BATCH_SIZE = 64;

/**
 * Receives syslog datagrams on UDP, one message per datagram, through the platform's
 * `UdpDatagramBinding` (agent-linux: the `unixdgram` addon, many datagrams per crossing, the sender's
 * address with each). While the pipeline holds its sources back (as TCP and unix sockets pause), the
 * listener stops reading: datagrams wait in the kernel's receive buffer (`receiveBufferBytes`), which
 * absorbs a burst, and what overflows it the kernel drops and counts (kernel drops). When the binding
 * cannot be loaded (the addon is not built), `fallback()` is told and the listener uses `node:dgram`
 * instead (one callback per datagram), which cannot stop reading: while the pipeline holds more than
 * `maxQueuedBatches` full batches, datagrams are then dropped (queue_full) instead of piling up in memory.
 */
export class UdpListener {
  private socket: UdpDatagramSocket | undefined;
  private dgram: Socket | undefined;
  private kernelDrops = 0;

  constructor(
    private readonly config: UdpConfig,
    private readonly maxMessageBytes: number,
    private readonly binding: (() => UdpDatagramBinding) | undefined,
    private readonly sink: FrameSink,
    private readonly metrics: ListenerMetrics,
    private readonly fallback: (err: unknown) => void,
  ) {}

  async open(onError: (err: Error) => void): Promise<AddressInfo> {
    if (this.binding !== undefined) {
      try {
        return await this.openBinding(this.binding(), onError);
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'OMA_ERR_NATIVE_LOAD') throw err;
        this.fallback(err);
      }
    } else {
      this.fallback(undefined);
    }
    return this.openDgram(onError);
  }

  private async openBinding(binding: UdpDatagramBinding, onError: (err: Error) => void): Promise<AddressInfo> {
    const { host, port, receiveBufferBytes } = this.config;
    const socket = await binding.open({ host, port, receiveBufferBytes, maxDatagramBytes: this.maxMessageBytes, batchSize: BATCH_SIZE });
    this.socket = socket;
    const sink = this.sink;
    let lastAddress = '';
    let lastPeer = sink.peer('127.0.0.1');
    socket.start((b: UdpDatagramBatch) => {
      for (let i = 0; i < b.count; i++) {
        const len = b.lengths[i]!;
        sink.received(len);
        // No queue_full here: a held pipeline pauses this socket, so a read takes at most one event's
        // datagrams more (8 recvmmsg calls of BATCH_SIZE), and the rest wait in the kernel.
        if (b.truncated[i] === 1) sink.dropped('message_truncated');
        const address = b.address(i);
        if (address !== lastAddress) {
          lastAddress = address;
          lastPeer = sink.peer(address);
        }
        const off = b.offsets[i]!;
        sink.frame(b.data, off, off + len, lastPeer);
      }
      this.countKernelDrops();
    }, onError);
    return { address: socket.host, family: isIPv6(socket.host) ? 'IPv6' : 'IPv4', port: socket.port };
  }

  private async openDgram(onError: (err: Error) => void): Promise<AddressInfo> {
    const socket = createSocket({ type: isIPv6(this.config.host) ? 'udp6' : 'udp4', recvBufferSize: this.config.receiveBufferBytes });
    this.dgram = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.config.port, this.config.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', onError);
    const max = this.maxMessageBytes;
    socket.on('message', (msg, rinfo) => {
      const sink = this.sink;
      sink.received(msg.length);
      if (sink.overloaded()) {
        sink.dropped('queue_full');
        return;
      }
      let end = msg.length;
      if (end > max) {
        sink.dropped('message_truncated');
        end = max;
      }
      sink.frame(msg, 0, end, sink.peer(rinfo.address));
    });
    return socket.address();
  }

  /** True on the addon's socket, which can stop reading; node:dgram cannot. */
  get pausable(): boolean {
    return this.socket !== undefined;
  }

  /** Stops reading (the addon's socket; node:dgram cannot): datagrams wait in the kernel's buffer. */
  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
    this.countKernelDrops();
  }

  /** Adds what the kernel dropped since the last look to the metrics (the addon's socket only). */
  private countKernelDrops(): void {
    const n = this.socket?.kernelDrops() ?? 0;
    if (n > this.kernelDrops) {
      this.metrics.kernelDrops(n - this.kernelDrops);
      this.kernelDrops = n;
    }
  }

  async close(): Promise<void> {
    this.countKernelDrops();
    const s = this.socket;
    const d = this.dgram;
    this.socket = undefined;
    this.dgram = undefined;
    await s?.close();
    if (d) await new Promise<void>((r) => d.close(() => r()));
  }
}
