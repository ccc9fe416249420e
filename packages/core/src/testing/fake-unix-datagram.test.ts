import { describe, expect, it, vi } from 'vitest';
import { unixDatagramContract } from './contracts/unix-datagram.js';
import { FakeUnixDatagramBinding, type FakeUnixDatagramOptions } from './fake-unix-datagram.js';
import type { DatagramBatch } from '../ports/unix-datagram.js';

function fakeHarness(options: FakeUnixDatagramOptions = {}) {
  return () => {
    const binding = new FakeUnixDatagramBinding({ groups: { adm: 4 }, ...options });
    return Promise.resolve({
      binding,
      path: (name: string) => `/run/oma-test/${name}`,
      send: (path: string, data: readonly Uint8Array[], creds?: { pid: number; uid: number }) =>
        new Promise<{ sent: number; refused: number }>((resolve) => resolve(binding.send(path, data, creds))),
      senderCredentials: { pid: 4242, uid: 1000 },
      queueDatagrams: options.queueDatagrams ?? 11,
      group: { name: 'adm', gid: 4 },
      stat: (path: string) => {
        const e = binding.stat(path);
        return Promise.resolve(e === undefined ? undefined : { kind: e.kind, mode: e.mode & 0o777, gid: e.gid });
      },
      createFile: (path: string) => Promise.resolve(binding.createFile(path)),
      createStaleSocket: (path: string) => Promise.resolve(binding.createStaleSocket(path)),
      dispose: () => Promise.resolve(),
    });
  };
}

unixDatagramContract('fake (full queue refuses, as AF_UNIX)', fakeHarness());
unixDatagramContract('fake (full queue drops, as UDP)', fakeHarness({ overflow: 'drop', queueDatagrams: 5 }));

describe('FakeUnixDatagramBinding', () => {
  it('fails the next open with an injected errno, then binds again', async () => {
    const b = new FakeUnixDatagramBinding();
    b.failNextOpen('EACCES', 'permission denied');
    await expect(b.open({ path: '/x.sock', maxDatagramBytes: 8, batchSize: 1 })).rejects.toMatchObject({
      code: 'OMA_ERR_NATIVE',
      cause: { code: 'EACCES' },
    });
    const s = await b.open({ path: '/x.sock', maxDatagramBytes: 8, batchSize: 1 });
    expect(b.opened).toHaveLength(2);
    await s.close();
  });

  it('counts simulated kernel drops and reports a simulated socket failure once, closing the socket', async () => {
    const b = new FakeUnixDatagramBinding();
    const s = await b.open({ path: '/y.sock', maxDatagramBytes: 8, batchSize: 1 });
    const errors: Error[] = [];
    s.start(() => undefined, (e) => errors.push(e));
    b.socket('/y.sock')!.simulateKernelDrops(7);
    expect(s.kernelDrops()).toBe(7);
    b.socket('/y.sock')!.fail(new Error('EBADF'));
    expect(errors.map((e) => e.message)).toEqual(['EBADF']);
    expect(b.stat('/y.sock')).toBeUndefined();
  });

  it('yields to the event loop after a bounded number of batches', async () => {
    const b = new FakeUnixDatagramBinding({ queueDatagrams: 100 });
    const s = await b.open({ path: '/z.sock', maxDatagramBytes: 8, batchSize: 2 });
    let batches = 0;
    s.start((batch: DatagramBatch) => void (batches += batch.count > 0 ? 1 : 0), () => undefined);
    b.send('/z.sock', Array.from({ length: 40 }, () => Buffer.from('x')));
    // The readable event was queued by the send, before this turn: it ran 8 batches of 2, then yielded.
    await new Promise((r) => setImmediate(r));
    expect(batches).toBe(8);
    await vi.waitFor(() => expect(batches).toBe(20));
    await s.close();
  });
});
