import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UdpDatagramBatch, UdpDatagramBinding, UdpDatagramOptions, UdpDatagramSocket } from '../../ports/udp-datagram.js';

/** One UDP binding under test, with the means to send to it. */
export interface UdpDatagramHarness {
  readonly binding: UdpDatagramBinding;
  /**
   * Sends each datagram to `port` on `host` (127.0.0.1 or ::1) from one sender socket of the harness,
   * and resolves with that sender's address and port once every send is done.
   */
  send(host: string, port: number, datagrams: readonly Uint8Array[]): Promise<{ address: string; port: number }>;
  /** True when IPv6 loopback can be bound and sent to. */
  readonly ipv6: boolean;
  dispose(): Promise<void>;
}

interface Received {
  readonly data: string;
  readonly truncated: boolean;
  readonly address: string;
  readonly port: number;
}

/** Collects what a socket delivers, copying out of the slab (which is reused). */
function collect(socket: UdpDatagramSocket) {
  const got: Received[] = [];
  const batches: number[] = [];
  const errors: Error[] = [];
  socket.start(
    (b: UdpDatagramBatch) => {
      batches.push(b.count);
      for (let i = 0; i < b.count; i++) {
        got.push({
          data: b.data.toString('latin1', b.offsets[i], b.offsets[i]! + b.lengths[i]!),
          truncated: b.truncated[i] === 1,
          address: b.address(i),
          port: b.port(i),
        });
      }
    },
    (err) => errors.push(err),
  );
  return { got, batches, errors };
}

function datagrams(n: number, prefix = 'd'): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.from(`${prefix}${i} ${'x'.repeat(i % 7)}`));
}

/**
 * The contract of `UdpDatagramBinding`, run against the fake (core) and the addon (agent-linux, on
 * Linux). `makeHarness` is called before each test; the harness is disposed after it.
 */
export function udpDatagramContract(name: string, makeHarness: () => Promise<UdpDatagramHarness>): void {
  describe(`UdpDatagramBinding contract: ${name}`, () => {
    let h: UdpDatagramHarness;
    const open: UdpDatagramSocket[] = [];
    const bind = async (opts: Partial<UdpDatagramOptions> = {}): Promise<UdpDatagramSocket> => {
      const s = await h.binding.open({ host: '127.0.0.1', port: 0, maxDatagramBytes: 256, batchSize: 4, ...opts });
      open.push(s);
      return s;
    };
    /** Waits until a datagram sent after the others to a second socket has arrived: the loop has turned. */
    const barrier = async (): Promise<void> => {
      const probe = await bind();
      const c = collect(probe);
      await h.send('127.0.0.1', probe.port, [Buffer.from('ping')]);
      await vi.waitFor(() => expect(c.got).toHaveLength(1));
      await probe.close();
    };

    beforeEach(async () => {
      h = await makeHarness();
    });
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
      await h.dispose();
    });

    it('binds port 0 to a free port and tells which', async () => {
      const s = await bind();
      expect(s.host).toBe('127.0.0.1');
      expect(s.port).toBeGreaterThan(0);
    });

    it('delivers datagrams in order, in batches of at most batchSize, each with its sender address and port', async () => {
      const s = await bind({ batchSize: 4 });
      const c = collect(s);
      const sent = datagrams(10, 'u');
      const from = await h.send('127.0.0.1', s.port, sent);
      await vi.waitFor(() => expect(c.got).toHaveLength(10));
      expect(c.got.map((g) => g.data)).toEqual(sent.map((d) => d.toString()));
      expect(c.got.every((g) => g.address === '127.0.0.1' && g.port === from.port && !g.truncated)).toBe(true);
      expect(from.address).toBe('127.0.0.1');
      expect(c.batches.every((n) => n >= 1 && n <= 4)).toBe(true);
      expect(c.errors).toEqual([]);
    });

    it('gives an IPv6 sender its address in IPv6 text form', async ({ skip }) => {
      if (!h.ipv6) skip();
      const s = await bind({ host: '::1' });
      const c = collect(s);
      await h.send('::1', s.port, [Buffer.from('six')]);
      await vi.waitFor(() => expect(c.got).toHaveLength(1));
      expect(c.got[0]).toMatchObject({ data: 'six', address: '::1' });
    });

    it('cuts a datagram longer than maxDatagramBytes and flags it; one of exactly that size is whole', async () => {
      const s = await bind({ maxDatagramBytes: 32 });
      const c = collect(s);
      await h.send('127.0.0.1', s.port, [Buffer.from('L'.repeat(40)), Buffer.from('E'.repeat(32))]);
      await vi.waitFor(() => expect(c.got).toHaveLength(2));
      expect(c.got[0]).toMatchObject({ data: 'L'.repeat(32), truncated: true });
      expect(c.got[1]).toMatchObject({ data: 'E'.repeat(32), truncated: false });
    });

    it('delivers nothing while paused and what the receive buffer held after resume', async () => {
      const s = await bind();
      const c = collect(s);
      s.pause();
      await h.send('127.0.0.1', s.port, datagrams(5, 'p'));
      await barrier();
      expect(c.got).toHaveLength(0);
      s.resume();
      await vi.waitFor(() => expect(c.got).toHaveLength(5));
      expect(s.kernelDrops()).toBe(0);
    });

    it('rejects a port in use with EADDRINUSE, and frees the port on close', async () => {
      const s = await bind();
      const err = await h.binding.open({ host: '127.0.0.1', port: s.port, maxDatagramBytes: 64, batchSize: 2 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'OMA_ERR_NATIVE', cause: { code: 'EADDRINUSE' } });
      const port = s.port;
      await s.close();
      const again = await bind({ port });
      expect(again.port).toBe(port);
    });

    it('rejects a host that is not an address literal', async () => {
      const err = await h.binding.open({ host: 'localhost', port: 0, maxDatagramBytes: 64, batchSize: 2 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'OMA_ERR_NATIVE', cause: { code: 'EINVAL' } });
    });

    it('delivers nothing after close', async () => {
      const s = await bind();
      const c = collect(s);
      const port = s.port;
      await s.close();
      await h.send('127.0.0.1', port, [Buffer.from('late')]);
      await barrier();
      expect(c.got).toHaveLength(0);
    });
  });
}
