import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';

const linux = process.platform === 'linux';

/** The addon's receiver, used directly to leave a socket file behind. */
interface StaleMaker {
  bind(path: string, mode: number, group: number, rcvbufBytes: number, passCred: boolean): unknown;
  close(unlinkPath: boolean): void;
}

/** A group other than ours to chown sockets to: any as root, else one of our supplementary groups. */
async function otherGroup(): Promise<{ name: string; gid: number }> {
  const own = process.getgid!();
  const allowed = process.getuid!() === 0 ? undefined : new Set(process.getgroups!());
  const lines = (await readFile('/etc/group', 'utf8')).split('\n');
  for (const line of lines) {
    const [name, , gidText] = line.split(':');
    const gid = Number(gidText);
    if (name && Number.isInteger(gid) && gid !== own && (allowed === undefined || allowed.has(gid))) return { name, gid };
  }
  throw new Error('no group other than the primary one to test with');
}

describe.runIf(linux)('nativeUnixDatagram (the unixdgram addon)', async () => {
  // Imported inside the gate: the addon exists on Linux only.
  const { unixDatagramContract, udpDatagramContract } = await import('@oma/core/testing/contracts');
  const { nativeUnixDatagram, nativeUdpDatagram, UnixDatagramSender, errnoName, MAX_BATCHES_PER_EVENT, openUdpDatagram } = await import('./unix-datagram.js');
  const { loadAddon } = await import('./load.js');
  const qlen = Number((await readFile('/proc/sys/net/unix/max_dgram_qlen', 'utf8')).trim());
  const group = await otherGroup();

  unixDatagramContract('unixdgram addon', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oma-udg-'));
    const sender = UnixDatagramSender.open();
    return {
      binding: nativeUnixDatagram(),
      path: (name: string) => join(dir, name),
      send: (path: string, data: readonly Uint8Array[]) =>
        new Promise<{ sent: number; refused: number }>((resolve) => {
          const r = sender.send(path, data);
          resolve({ sent: r.sent, refused: r.eagain + r.enobufs });
        }),
      senderCredentials: { pid: process.pid, uid: process.getuid!() },
      // A receive queue holds max_dgram_qlen + 1 datagrams: the kernel refuses when it is already longer.
      queueDatagrams: qlen + 1,
      group,
      stat: async (path: string) => {
        const st = await lstat(path).catch(() => undefined);
        if (st === undefined) return undefined;
        return { kind: st.isSocket() ? ('socket' as const) : ('file' as const), mode: st.mode & 0o777, gid: st.gid };
      },
      createFile: (path: string) => writeFile(path, 'not a socket'),
      createStaleSocket: async (path: string) => {
        // Bound and closed without unlinking, as a killed process leaves it.
        const r = new (loadAddon<{ Receiver: new () => StaleMaker }>('unixdgram').Receiver)();
        expect(r.bind(path, -1, -1, 0, false)).toBeUndefined();
        r.close(false);
        expect((await lstat(path)).isSocket()).toBe(true);
      },
      dispose: async () => {
        sender.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });

  const ipv6 = await new Promise<boolean>((resolve) => {
    const probe = createSocket('udp6');
    probe.once('error', () => resolve(false));
    probe.bind(0, '::1', () => probe.close(() => resolve(true)));
  });

  udpDatagramContract('unixdgram addon', () => {
    const senders: Array<ReturnType<typeof createSocket>> = [];
    return Promise.resolve({
      binding: nativeUdpDatagram(),
      ipv6,
      send: async (host: string, port: number, datagrams: readonly Uint8Array[]) => {
        const client = createSocket(host.includes(':') ? 'udp6' : 'udp4');
        senders.push(client);
        await new Promise<void>((resolve) => client.bind(0, host, () => resolve()));
        for (const d of datagrams) {
          await new Promise<void>((resolve, reject) => client.send(d, port, host, (err) => (err ? reject(err) : resolve())));
        }
        const a = client.address();
        return { address: a.address, port: a.port };
      },
      dispose: async () => {
        for (const c of senders.splice(0)) await new Promise<void>((r) => c.close(() => r()));
      },
    });
  });

  it('names errno values symbolically', () => {
    expect(errnoName(98)).toBe('EADDRINUSE');
    expect(errnoName(99999)).toBe('errno 99999');
  });

  // batchSize 1 makes each recvmmsg one datagram, so a default queue (11) is deeper than one event's budget.
  it.runIf(qlen + 1 > MAX_BATCHES_PER_EVENT)('yields to the event loop after a bounded number of batches, then drains the rest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oma-udg-'));
    const s = await nativeUnixDatagram().open({ path: join(dir, 'deep.sock'), maxDatagramBytes: 16, batchSize: 1 });
    const sender = UnixDatagramSender.open();
    let batches = 0;
    let afterFirstEvent: number | undefined;
    s.start(
      () => {
        // The check phase follows the poll phase that ran this callback: it sees one event's batches.
        if (batches++ === 0) setImmediate(() => (afterFirstEvent = batches));
      },
      () => undefined,
    );
    const depth = qlen + 1;
    expect(sender.send(s.path, Array.from({ length: depth }, () => Buffer.from('x')))).toMatchObject({ sent: depth });
    await vi.waitFor(() => expect(batches).toBe(depth));
    expect(afterFirstEvent).toBe(MAX_BATCHES_PER_EVENT);
    sender.close();
    await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts what the kernel drops on a full UDP queue (SO_RXQ_OVFL), as of the next datagram read', async () => {
    const s = await openUdpDatagram({ host: '127.0.0.1', port: 0, receiveBufferBytes: 4096, maxDatagramBytes: 512, batchSize: 16 });
    expect(s.port).toBeGreaterThan(0);
    let delivered = 0;
    s.start((b) => void (delivered += b.count), () => undefined);
    s.pause();
    const client = createSocket('udp4');
    const payload = Buffer.alloc(400, 'u');
    const offered = 200;
    for (let i = 0; i < offered; i++) {
      await new Promise<void>((resolve, reject) => client.send(payload, s.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    }
    s.resume();
    await vi.waitFor(() => expect(delivered).toBeGreaterThan(0));
    await barrierUdp();
    const queued = delivered;
    expect(queued).toBeLessThan(offered);
    // The datagrams that waited were queued before the drops: the count comes with the next one.
    await new Promise<void>((resolve) => client.send(Buffer.from('marker'), s.port, '127.0.0.1', () => resolve()));
    await vi.waitFor(() => expect(delivered).toBe(queued + 1));
    expect(s.kernelDrops()).toBe(offered - queued);
    client.close();
    await s.close();
    expect(s.kernelDrops()).toBe(offered - queued);
  });

  /** Turns of the event loop until a loopback UDP round trip completes: what was readable has been read. */
  async function barrierUdp(): Promise<void> {
    const a = createSocket('udp4');
    await new Promise<void>((r) => a.bind(0, '127.0.0.1', r));
    const got = new Promise<void>((r) => a.once('message', () => r()));
    a.send('ping', a.address().port, '127.0.0.1');
    await got;
    a.close();
  }

  it('survives a worker thread that ends with a receiver polling', async () => {
    const addonFile = join(dirname(createRequire(import.meta.url).resolve('@oma/native-unixdgram/package.json')), 'build', 'Release', 'unixdgram.node');
    const dir = await mkdtemp(join(tmpdir(), 'oma-udg-'));
    // In a child process, so that a crash of the teardown shows as its exit status.
    const script = `
      const { Worker } = require('node:worker_threads');
      const w = new Worker(\`
        const { workerData, parentPort } = require('node:worker_threads');
        const a = require(workerData.addonFile);
        const r = new a.Receiver();
        if (r.bind(workerData.path, -1, -1, 0, false) !== undefined) throw new Error('bind failed');
        r.start(Buffer.alloc(256), new Uint32Array(4), new Uint32Array(4), new Uint8Array(4), null, null, 64, 4, 8, () => {}, () => {});
        parentPort.postMessage('polling');
        setInterval(() => {}, 1000);
      \`, { eval: true, workerData: ${JSON.stringify({ addonFile, path: join(dir, 'worker.sock') })} });
      w.once('message', () => w.terminate().then(() => setImmediate(() => console.log('alive'))));
    `;
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(process.execPath, ['-e', script], (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }));
    });
    expect(out).toEqual({ code: 0, stdout: 'alive\n' });
    await rm(dir, { recursive: true, force: true });
  });

  it('closes the socket and reports the error when the batch callback throws', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oma-udg-'));
    const path = join(dir, 'throw.sock');
    const s = await nativeUnixDatagram().open({ path, maxDatagramBytes: 16, batchSize: 4 });
    const errors: Error[] = [];
    s.start(
      () => {
        throw new Error('consumer bug');
      },
      (err) => errors.push(err),
    );
    const sender = UnixDatagramSender.open();
    sender.send(path, [Buffer.from('a')]);
    await vi.waitFor(() => expect(errors.map((e) => e.message)).toEqual(['consumer bug']));
    await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    sender.close();
    await rm(dir, { recursive: true, force: true });
  });
});
