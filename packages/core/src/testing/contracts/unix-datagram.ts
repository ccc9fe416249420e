import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DatagramBatch, UnixDatagramBinding, UnixDatagramOptions, UnixDatagramSocket } from '../../ports/unix-datagram.js';
import type { DatagramCredentials } from '../fake-unix-datagram.js';

/** What the path holds, as far as the contract cares. */
export interface UnixDatagramPathStat {
  readonly kind: 'socket' | 'file';
  /** Permission bits (mode & 0o777). */
  readonly mode: number;
  readonly gid: number;
}

/** One binding under test, with the means to send to it and to look at its paths. */
export interface UnixDatagramHarness {
  readonly binding: UnixDatagramBinding;
  /** A socket path named `name` in a place of the harness's own (a fresh temp dir for real sockets). */
  path(name: string): string;
  /**
   * Sends each datagram to `path` without blocking: accepted into the receiver's queue, or refused
   * when the queue is full. `creds` is what the fake reports; a real sender presents its own.
   */
  send(path: string, datagrams: readonly Uint8Array[], creds?: DatagramCredentials): Promise<{ sent: number; refused: number }>;
  /** The credentials the receiver sees for `send(…, senderCredentials)`. */
  readonly senderCredentials: DatagramCredentials;
  /** Datagrams a receive queue holds before senders are refused (AF_UNIX: net.unix.max_dgram_qlen + 1). */
  readonly queueDatagrams: number;
  /** A group that is not the process's default one, by name and gid, for `group`. */
  readonly group: { readonly name: string; readonly gid: number };
  stat(path: string): Promise<UnixDatagramPathStat | undefined>;
  createFile(path: string): Promise<void>;
  /** Leaves a socket file at `path` that nobody receives on. */
  createStaleSocket(path: string): Promise<void>;
  dispose(): Promise<void>;
}

interface Received {
  readonly data: Buffer;
  readonly truncated: boolean;
  readonly pid?: number;
  readonly uid?: number;
}

/** Collects what a socket delivers, copying out of the slab (which is reused). */
function collect(socket: UnixDatagramSocket) {
  const got: Received[] = [];
  const batches: Array<{ count: number; data: Buffer; offsets: number[] }> = [];
  const errors: Error[] = [];
  socket.start(
    (b: DatagramBatch) => {
      batches.push({ count: b.count, data: b.data, offsets: Array.from(b.offsets.subarray(0, b.count)) });
      for (let i = 0; i < b.count; i++) {
        got.push({
          data: Buffer.from(b.data.subarray(b.offsets[i], b.offsets[i]! + b.lengths[i]!)),
          truncated: b.truncated[i] === 1,
          pid: b.pids?.[i],
          uid: b.uids?.[i],
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
 * The contract of `UnixDatagramBinding`, run against the fake (core) and the addon (agent-linux, on
 * Linux). `makeHarness` is called before each test; the harness is disposed after it.
 */
export function unixDatagramContract(name: string, makeHarness: () => Promise<UnixDatagramHarness>): void {
  describe(`UnixDatagramBinding contract: ${name}`, () => {
    let h: UnixDatagramHarness;
    const open: UnixDatagramSocket[] = [];
    const bind = async (opts: Partial<UnixDatagramOptions> & { path: string }): Promise<UnixDatagramSocket> => {
      const s = await h.binding.open({ maxDatagramBytes: 256, batchSize: 4, ...opts });
      open.push(s);
      return s;
    };
    /**
     * Waits until the event loop has surely turned with `path`'s datagrams readable: a second socket,
     * sent to after them, has delivered. Proves nothing came while paused, without a fixed sleep.
     */
    const barrier = async (): Promise<void> => {
      const probe = await bind({ path: h.path(`barrier-${open.length}.sock`) });
      const c = collect(probe);
      await h.send(probe.path, [Buffer.from('ping')]);
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

    it('binds the path as a socket with the given mode and group (by name and by gid)', async () => {
      const byName = await bind({ path: h.path('a.sock'), mode: 0o660, group: h.group.name });
      expect(byName.path).toBe(h.path('a.sock'));
      expect(await h.stat(byName.path)).toEqual({ kind: 'socket', mode: 0o660, gid: h.group.gid });
      const byGid = await bind({ path: h.path('b.sock'), mode: 0o620, group: h.group.gid });
      expect(await h.stat(byGid.path)).toEqual({ kind: 'socket', mode: 0o620, gid: h.group.gid });
    });

    it('rejects a group that does not exist and leaves no path behind', async () => {
      const path = h.path('g.sock');
      const err = await h.binding.open({ path, maxDatagramBytes: 64, batchSize: 2, group: 'oma-no-such-group' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'OMA_ERR_NATIVE', cause: { code: 'ENOENT' } });
      expect(await h.stat(path)).toBeUndefined();
    });

    it('delivers many datagrams in few batches, at fixed slots of one reused slab', async () => {
      const s = await bind({ path: h.path('batch.sock'), batchSize: 4, maxDatagramBytes: 64 });
      const c = collect(s);
      const sent = datagrams(Math.min(10, h.queueDatagrams), 'batch');
      expect(await h.send(s.path, sent)).toEqual({ sent: sent.length, refused: 0 });
      await vi.waitFor(() => expect(c.got).toHaveLength(sent.length));
      expect(c.got.map((g) => g.data.toString())).toEqual(sent.map((d) => d.toString()));
      expect(c.batches.length).toBe(Math.ceil(sent.length / 4));
      for (const b of c.batches) {
        expect(b.data).toBe(c.batches[0]!.data);
        expect(b.offsets).toEqual(Array.from({ length: b.count }, (_, i) => i * 64));
      }
      expect(c.got.every((g) => !g.truncated)).toBe(true);
      expect(c.errors).toEqual([]);
    });

    it('cuts a datagram longer than maxDatagramBytes and flags it; one of exactly that size is whole', async () => {
      const s = await bind({ path: h.path('trunc.sock'), maxDatagramBytes: 32 });
      const c = collect(s);
      const long = Buffer.from('L'.repeat(40) + 'tail');
      const exact = Buffer.from('E'.repeat(32));
      await h.send(s.path, [long, exact]);
      await vi.waitFor(() => expect(c.got).toHaveLength(2));
      expect(c.got[0]).toMatchObject({ data: long.subarray(0, 32), truncated: true });
      expect(c.got[1]).toMatchObject({ data: exact, truncated: false });
    });

    it('delivers an empty datagram with length 0', async () => {
      const s = await bind({ path: h.path('empty.sock') });
      const c = collect(s);
      await h.send(s.path, [Buffer.alloc(0), Buffer.from('after')]);
      await vi.waitFor(() => expect(c.got).toHaveLength(2));
      expect(c.got[0]!.data.length).toBe(0);
      expect(c.got[1]!.data.toString()).toBe('after');
    });

    it('delivers nothing while paused and everything the queue held after resume', async () => {
      const s = await bind({ path: h.path('pause.sock') });
      const c = collect(s);
      s.pause();
      const sent = datagrams(h.queueDatagrams, 'p');
      const r = await h.send(s.path, sent);
      expect(r).toEqual({ sent: h.queueDatagrams, refused: 0 });
      await barrier();
      expect(c.got).toHaveLength(0);
      s.resume();
      await vi.waitFor(() => expect(c.got).toHaveLength(sent.length));
      expect(c.got.map((g) => g.data.toString())).toEqual(sent.map((d) => d.toString()));
    });

    it('honours a pause made before start', async () => {
      const s = await bind({ path: h.path('pause-first.sock') });
      s.pause();
      const c = collect(s);
      await h.send(s.path, datagrams(3, 'early'));
      await barrier();
      expect(c.got).toHaveLength(0);
      s.resume();
      await vi.waitFor(() => expect(c.got).toHaveLength(3));
    });

    it('pauses from inside a batch callback: the rest waits for resume', async () => {
      const s = await bind({ path: h.path('pause-cb.sock'), batchSize: 2 });
      const got: string[] = [];
      let batches = 0;
      s.start(
        (b) => {
          batches++;
          for (let i = 0; i < b.count; i++) got.push(b.data.toString('utf8', b.offsets[i], b.offsets[i]! + b.lengths[i]!));
          s.pause();
        },
        () => undefined,
      );
      const sent = datagrams(Math.min(6, h.queueDatagrams), 'cb');
      await h.send(s.path, sent);
      await vi.waitFor(() => expect(batches).toBe(1));
      await barrier();
      expect(got).toHaveLength(2);
      s.resume();
      await vi.waitFor(() => expect(batches).toBe(2));
      expect(got).toHaveLength(4);
    });

    it('accounts for every datagram a non-blocking sender offers a paused receiver: delivered, refused or a kernel drop', async () => {
      const s = await bind({ path: h.path('drops.sock') });
      const c = collect(s);
      s.pause();
      const offered = datagrams(h.queueDatagrams * 3, 'o');
      const r = await h.send(s.path, offered);
      expect(r.sent + r.refused).toBe(offered.length);
      s.resume();
      await vi.waitFor(() => expect(c.got.length + s.kernelDrops()).toBe(r.sent));
      // The queue was overrun: the kernel either refused the excess to the sender or dropped it.
      expect(r.refused + s.kernelDrops()).toBe(offered.length - h.queueDatagrams);
      expect(c.got).toHaveLength(h.queueDatagrams);
    });

    it("reports each sender's pid and uid when passCredentials is set, and none otherwise", async () => {
      const s = await bind({ path: h.path('cred.sock'), passCredentials: true });
      const c = collect(s);
      await h.send(s.path, datagrams(3), h.senderCredentials);
      await vi.waitFor(() => expect(c.got).toHaveLength(3));
      for (const g of c.got) expect({ pid: g.pid, uid: g.uid }).toEqual(h.senderCredentials);

      const plain = await bind({ path: h.path('nocred.sock') });
      const p = collect(plain);
      await h.send(plain.path, datagrams(1), h.senderCredentials);
      await vi.waitFor(() => expect(p.got).toHaveLength(1));
      expect(p.got[0]!.pid).toBeUndefined();
    });

    it('close stops delivery and removes the path; closing twice is harmless', async () => {
      const s = await bind({ path: h.path('close.sock') });
      collect(s);
      expect(await h.stat(s.path)).toMatchObject({ kind: 'socket' });
      await s.close();
      expect(await h.stat(s.path)).toBeUndefined();
      await s.close();
      await expect(h.send(s.path, [Buffer.from('late')])).rejects.toMatchObject({ code: 'OMA_ERR_NATIVE' });
    });

    it('refuses to bind over a regular file and leaves it alone', async () => {
      const path = h.path('file.sock');
      await h.createFile(path);
      const err = await h.binding.open({ path, maxDatagramBytes: 64, batchSize: 2 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'OMA_ERR_NATIVE', cause: { code: 'EEXIST' } });
      expect((err as Error).message).toContain('not a socket');
      expect(await h.stat(path)).toMatchObject({ kind: 'file' });
    });

    it('replaces a stale socket file, but not a socket something receives on', async () => {
      const path = h.path('stale.sock');
      await h.createStaleSocket(path);
      const s = await bind({ path });
      const c = collect(s);
      await h.send(path, [Buffer.from('fresh')]);
      await vi.waitFor(() => expect(c.got).toHaveLength(1));

      const err = await h.binding.open({ path, maxDatagramBytes: 64, batchSize: 2 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'OMA_ERR_NATIVE', cause: { code: 'EADDRINUSE' } });
      await h.send(path, [Buffer.from('still mine')]);
      await vi.waitFor(() => expect(c.got).toHaveLength(2));
    });

    it('rejects a path longer than sun_path holds, naming the limit', async () => {
      const path = h.path(`${'n'.repeat(120)}.sock`);
      const err = await h.binding.open({ path, maxDatagramBytes: 64, batchSize: 2 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'OMA_ERR_NATIVE', cause: { code: 'ENAMETOOLONG' } });
      expect((err as Error).message).toMatch(/at most 107/);
    });
  });
}
