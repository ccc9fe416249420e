/**
 * Datagram receive micro-benchmark: how many datagrams per second, and how much receiver CPU per
 * datagram, for (a) unix datagrams through the `unixdgram` addon (recvmmsg batches, one JS callback
 * per batch) at several batch sizes, (b) UDP through Node's `dgram` (one callback per datagram) and
 * (c) UDP through the same addon (recvmmsg batches).
 * A sender process floods each receiver for a fixed window; the receiver only counts (and reads each
 * datagram's length), so the figures are the transport's own cost. Run after a build:
 *   npx vite-node packages/agent-linux/bench/datagram-receive.ts
 * Environment: BENCH_SECONDS (window, default 3), BENCH_DATAGRAM_BYTES (default 200).
 */
import { fork, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeUnixDatagram, openUdpDatagram } from '../src/native/unix-datagram.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const SIZE = Number(process.env.BENCH_DATAGRAM_BYTES ?? 200);
const SENDER = join(import.meta.dirname, 'datagram-sender.mjs');

interface Counter {
  received: number;
  callbacks: number;
}

interface Row {
  readonly name: string;
  readonly perSecond: number;
  readonly cpuMicrosPerDatagram: number;
  readonly perCallback: number;
  readonly lossPercent: number;
}

function startSender(kind: 'unix' | 'udp', target: string): Promise<ChildProcess> {
  const child = fork(SENDER, [kind, target, String(SIZE)], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`sender exited with ${code}`)));
  });
}

function stopSender(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: { sent: number }) => resolve(m.sent));
    child.send('stop');
  });
}

/** Measures `count` over a window that starts once datagrams flow. */
async function measure(name: string, count: Counter, sender: ChildProcess): Promise<Row> {
  const flowing = Date.now();
  while (count.received === 0 && Date.now() - flowing < 5000) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 300)); // warm-up
  const r0 = count.received;
  const c0 = count.callbacks;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const received = count.received - r0;
  const callbacks = count.callbacks - c0;
  const sent = await stopSender(sender);
  // Loss over the whole run: what the sender sent against what arrived once the queue is drained.
  for (let last = -1; last !== count.received; ) {
    last = count.received;
    await new Promise((r) => setTimeout(r, 100));
  }
  const lossPercent = sent === 0 ? 0 : Math.max(0, (100 * (sent - count.received)) / sent);
  return {
    name,
    perSecond: received / seconds,
    cpuMicrosPerDatagram: received === 0 ? 0 : (cpu.user + cpu.system) / received,
    perCallback: callbacks === 0 ? 0 : received / callbacks,
    lossPercent,
  };
}

async function unixRun(batchSize: number): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'oma-bench-udg-'));
  const path = join(dir, 'bench.sock');
  const socket = await nativeUnixDatagram().open({ path, maxDatagramBytes: 2048, batchSize });
  const count: Counter = { received: 0, callbacks: 0 };
  socket.start(
    (b) => {
      count.callbacks++;
      let bytes = 0;
      for (let i = 0; i < b.count; i++) bytes += b.lengths[i]!;
      if (bytes >= 0) count.received += b.count;
    },
    (err) => {
      throw err;
    },
  );
  const sender = await startSender('unix', path);
  const row = await measure(`unix datagram, addon, batchSize ${batchSize}`, count, sender);
  await socket.close();
  await rm(dir, { recursive: true, force: true });
  return row;
}

async function udpRun(): Promise<Row> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  const count: Counter = { received: 0, callbacks: 0 };
  socket.on('message', (msg) => {
    count.callbacks++;
    if (msg.length >= 0) count.received++;
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const sender = await startSender('udp', String(socket.address().port));
  const row = await measure('UDP, node:dgram (4 MB SO_RCVBUF)', count, sender);
  await new Promise<void>((r) => socket.close(r));
  return row;
}

async function udpAddonRun(batchSize: number): Promise<Row> {
  const socket = await openUdpDatagram({ host: '127.0.0.1', port: 0, receiveBufferBytes: 4 << 20, maxDatagramBytes: 2048, batchSize });
  const count: Counter = { received: 0, callbacks: 0 };
  socket.start(
    (b) => {
      count.callbacks++;
      let bytes = 0;
      for (let i = 0; i < b.count; i++) bytes += b.lengths[i]!;
      if (bytes >= 0) count.received += b.count;
    },
    (err) => {
      throw err;
    },
  );
  const sender = await startSender('udp', String(socket.port));
  const row = await measure(`UDP, addon, batchSize ${batchSize} (4 MB SO_RCVBUF)`, count, sender);
  await socket.close();
  return row;
}

const qlen = (await readFile('/proc/sys/net/unix/max_dgram_qlen', 'utf8')).trim();
const rows: Row[] = [];
for (const batchSize of [1, 8, 64]) rows.push(await unixRun(batchSize));
rows.push(await udpRun());
rows.push(await udpAddonRun(64));
console.log(`\n${SIZE}-byte datagrams, ${SECONDS} s windows, net.unix.max_dgram_qlen=${qlen}, ${process.version}\n`);
console.log('| receiver | datagrams/s | receiver CPU µs/datagram | datagrams per JS callback | lost |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(
    `| ${r.name} | ${Math.round(r.perSecond).toLocaleString('en-US')} | ${r.cpuMicrosPerDatagram.toFixed(2)} | ${r.perCallback.toFixed(1)} | ${r.lossPercent.toFixed(1)}% |`,
  );
}
