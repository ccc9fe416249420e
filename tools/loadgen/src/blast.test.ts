import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { blastAvailable, sendBlast } from './blast.js';

// oma-blast (built by `npm run build -w @oma/loadgen` on Linux) against receivers in this test.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SEQ = / bench(\d+) (\d{10}) /;

async function udpReceiver(): Promise<{ port: number; messages: string[] }> {
  const socket: Socket = createSocket('udp4');
  const messages: string[] = [];
  socket.on('message', (m) => messages.push(m.toString('latin1')));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  socket.setRecvBufferSize(4 << 20);
  cleanups.push(() => new Promise((r) => socket.close(() => r())));
  return { port: socket.address().port, messages };
}

/** Splits an RFC 6587 octet-counted stream into its frames; throws on a malformed header. */
function octetFrames(stream: Buffer): string[] {
  const frames: string[] = [];
  let at = 0;
  while (at < stream.length) {
    const sp = stream.indexOf(0x20, at);
    const len = Number(stream.subarray(at, sp).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0) throw new Error(`bad frame header at ${at}`);
    frames.push(stream.subarray(sp + 1, sp + 1 + len).toString('latin1'));
    at = sp + 1 + len;
  }
  return frames;
}

describe.runIf(process.platform === 'linux' && blastAvailable())('oma-blast', () => {
  it('sends COUNT numbered UDP datagrams of the given size, RFC 3164 and RFC 5424 alternately', async () => {
    const rx = await udpReceiver();
    const r = await sendBlast({ transport: 'udp', host: '127.0.0.1', port: rx.port }, { ratePerSec: 20_000, count: 1000, sizeBytes: 160, runId: 'bench7' });
    expect(r).toMatchObject({ sent: 1000, bytes: 160_000, errors: 0, dropped: 0 });
    await vi.waitFor(() => expect(rx.messages.length).toBe(1000));
    expect(rx.messages.every((m) => m.length === 160)).toBe(true);
    const seqs = rx.messages.map((m) => Number(SEQ.exec(m)?.[2] ?? -1)).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const byFormat = (re: RegExp): number => rx.messages.filter((m) => re.test(m)).length;
    expect(byFormat(/^<\d+>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d benchhost app\d\[\d+\]: bench7 /)).toBe(500);
    expect(byFormat(/^<\d+>1 \d{4}-\d\d-\d\dT[\d:.]+Z benchhost svc\d \d+ - \[m@1 k="v"\] bench7 /)).toBe(500);
  });

  it('keeps to the rate: 2,000 messages at 10,000/s take about 0.2 s', async () => {
    const rx = await udpReceiver();
    const r = await sendBlast({ transport: 'udp', host: '127.0.0.1', port: rx.port }, { ratePerSec: 10_000, count: 2000, batch: 16 });
    expect(r.sent).toBe(2000);
    expect(r.elapsedSec).toBeGreaterThanOrEqual(0.19);
    expect(r.achievedRate).toBeLessThanOrEqual(10_500);
  });

  it('splits count and rate over threads, each numbering its own range', async () => {
    const rx = await udpReceiver();
    const r = await sendBlast({ transport: 'udp', host: '127.0.0.1', port: rx.port }, { ratePerSec: 0, count: 999, threads: 3, runId: 'bench1' });
    expect(r.sent).toBe(999);
    await vi.waitFor(() => expect(rx.messages.length).toBe(999));
    const seqs = new Set(rx.messages.map((m) => Number(SEQ.exec(m)?.[2] ?? -1)));
    expect(seqs.size).toBe(999);
    expect(Math.max(...seqs)).toBe(998);
  });

  it('frames TCP messages with RFC 6587 octet counting, in order', async () => {
    const chunks: Buffer[] = [];
    let closed!: () => void;
    const ended = new Promise<void>((r) => (closed = r));
    const server: Server = createServer((c) => {
      c.on('data', (d: Buffer) => chunks.push(d));
      c.on('end', () => closed());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const { port } = server.address() as { port: number };
    const r = await sendBlast({ transport: 'tcp', host: '127.0.0.1', port }, { ratePerSec: 0, count: 300, sizeBytes: 120, runId: 'bench2' });
    expect(r.sent).toBe(300);
    await ended;
    const frames = octetFrames(Buffer.concat(chunks));
    expect(frames).toHaveLength(300);
    expect(frames.every((f) => f.length === 120)).toBe(true);
    expect(frames.map((f) => Number(SEQ.exec(f)?.[2] ?? -1))).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it('refuses a target that is not loopback', async () => {
    await expect(sendBlast({ transport: 'udp', host: '10.1.2.3', port: 514 }, { ratePerSec: 1, count: 1 })).rejects.toThrow(/loopback/);
  });

  it('reports a unix socket nobody listens on', async () => {
    await expect(sendBlast({ transport: 'unix', socket: '/nonexistent-dir/x.sock' }, { ratePerSec: 0, count: 1 })).rejects.toThrow(/cannot connect/);
  });
});
