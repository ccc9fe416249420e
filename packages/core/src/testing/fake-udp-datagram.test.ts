import { describe, expect, it, vi } from 'vitest';
import { udpDatagramContract } from './contracts/udp-datagram.js';
import { FakeUdpDatagramBinding } from './fake-udp-datagram.js';

let sender = 50_000;

udpDatagramContract('fake', () => {
  const binding = new FakeUdpDatagramBinding();
  return Promise.resolve({
    binding,
    ipv6: true,
    send: (host: string, port: number, datagrams: readonly Uint8Array[]) => {
      const from = { address: host === '::1' ? '::1' : '127.0.0.1', port: sender++ };
      binding.send(port, datagrams, from);
      return Promise.resolve(from);
    },
    dispose: () => Promise.resolve(),
  });
});

describe('FakeUdpDatagramBinding', () => {
  it('drops what overflows the receive buffer and counts it as kernel drops', async () => {
    const binding = new FakeUdpDatagramBinding({ queueDatagrams: 3 });
    const s = await binding.open({ host: '127.0.0.1', port: 0, maxDatagramBytes: 64, batchSize: 8 });
    let got = 0;
    s.pause();
    s.start((b) => void (got += b.count), () => undefined);
    expect(binding.send(s.port, [Buffer.from('a'), Buffer.from('b'), Buffer.from('c'), Buffer.from('d'), Buffer.from('e')])).toBe(3);
    expect(s.kernelDrops()).toBe(2);
    s.resume();
    await vi.waitFor(() => expect(got).toBe(3));
  });

  it('writes IPv6 senders in their short form', async () => {
    const binding = new FakeUdpDatagramBinding();
    const s = await binding.open({ host: '::', port: 0, maxDatagramBytes: 64, batchSize: 8 });
    const seen: string[] = [];
    s.start((b) => {
      for (let i = 0; i < b.count; i++) seen.push(`${b.address(i)} ${b.port(i)}`);
    }, () => undefined);
    binding.send(s.port, [Buffer.from('x')], { address: '2001:db8:0:0:1:0:0:1', port: 514 });
    binding.send(s.port, [Buffer.from('y')], { address: '::ffff:192.0.2.9', port: 515 });
    binding.send(s.port, [Buffer.from('z')], { address: 'fe80::', port: 516 });
    await vi.waitFor(() => expect(seen).toEqual(['2001:db8::1:0:0:1 514', '192.0.2.9 515', 'fe80:: 516']));
  });
});
