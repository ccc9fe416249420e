import { createSocket, type Socket } from 'node:dgram';
import { isIPv6, type AddressInfo } from 'node:net';
import type { SyslogConfig } from '../config.js';
import type { FrameSink } from './peers.js';

type UdpConfig = NonNullable<SyslogConfig['udp']>;

/**
 * Receives syslog datagrams on UDP, one message per datagram. UDP cannot be paused: while the
 * pipeline holds more than `maxQueuedBatches` full batches, datagrams are dropped (queue_full) instead
 * of piling up in memory.
 */
export class UdpListener {
  private socket: Socket | undefined;

  constructor(
    private readonly config: UdpConfig,
    private readonly maxMessageBytes: number,
    private readonly sink: FrameSink,
  ) {}

  async open(onError: (err: Error) => void): Promise<AddressInfo> {
    const socket = createSocket({ type: isIPv6(this.config.host) ? 'udp6' : 'udp4', recvBufferSize: this.config.receiveBufferBytes });
    this.socket = socket;
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

  close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s) return Promise.resolve();
    return new Promise((r) => s.close(() => r()));
  }
}

