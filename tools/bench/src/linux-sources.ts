/**
 * Benchmark of the Linux sources, each beside its yardstick in the same run (Linux only):
 *
 * 1. syslog over UDP, a unix datagram socket and TCP (RFC 6587 octet counting): the highest rate at which
 *    nothing is lost from the sender to the stand-in Logs Ingestion endpoint (standin-endpoint.ts). Numbered
 *    messages of OMA_BENCH_SYSLOG_SIZE bytes, RFC 3164 and RFC 5424 alternately, are sent by oma-blast
 *    (@oma/loadgen; sendmmsg batches) at a fixed rate for a short search window per step: the rate doubles
 *    from OMA_BENCH_START_RATE while a step loses nothing, then is bisected OMA_BENCH_REFINE times; the best
 *    rate is then confirmed over the full window (OMA_BENCH_WINDOW_S, 30 s), stepping down by a tenth until
 *    a confirmation holds. A step holds when every message sent was stored and the sender reached 97% of the
 *    rate (unix and TCP senders block when the receiver does not keep up: their loss shows as a shortfall).
 *    Each step runs a fresh receiver; its CPU (utime + stime over the step, from its first message until
 *    the stand-in has stopped receiving) per message stored, and its peak RSS (VmHWM).
 * 2. rsyslog (imudp → omfile, 4 MB receive buffer) over the full window at the rate found for OMA over UDP
 *    (without one, the highest rate a UDP step held): its CPU per message in the same run (rsyslog's own
 *    loss-free rate is not searched: `loadgen rsyslog-rate` does that).
 * 3. journald: a journal of OMA_BENCH_JOURNAL_ENTRIES entries made with systemd-journal-remote from
 *    export-format text; entries/s of `journalctl -D DIR -o export` and `-o json` to /dev/null, and of the
 *    agent's journald source from its start to the last entry stored at the stand-in (read → delivered).
 *
 * With FLUENT_BIT naming a Fluent Bit binary (syslog and systemd inputs, azure_logs_ingestion output),
 * Fluent Bit runs the same work into a fresh stand-in: its `syslog` input (udp with a 4 MB receive buffer,
 * unix_udp, tcp with octet counting) and its `systemd` input on the journal's directory; the ratios are printed.
 *
 * Writes bench-results/linux-sources.json and the tables between the linux-sources markers in
 * docs/benchmarks.md. Environment (all optional): OMA_BENCH_WINDOW_S (30), OMA_BENCH_SEARCH_S (5),
 * OMA_BENCH_START_RATE (100000), OMA_BENCH_MAX_RATE (1600000), OMA_BENCH_REFINE (2), OMA_BENCH_SENDERS
 * (oma-blast threads, 1), OMA_BENCH_SYSLOG_SIZE (150), OMA_BENCH_JOURNAL_ENTRIES (1000000; 0 skips),
 * OMA_BENCH_LINUX (what to run, comma-separated: udp,unix,tcp,rsyslog,journald; default all), FLUENT_BIT.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blastAvailable, measureRsyslogUdp, sendBlast, udpSocketDrops, type BlastTarget } from '@oma/loadgen';
import { BENCH_CLIENT_ID, delay, envNumber, machine, mib, ProcSampler, replaceDocTable, round, runMain, spawnOma, stopProcess, today, writeResult } from './harness.js';
import { startStandin, type Standin } from './standin-endpoint.js';

const WINDOW_S = envNumber('OMA_BENCH_WINDOW_S', 30);
const SEARCH_S = envNumber('OMA_BENCH_SEARCH_S', 5);
const START_RATE = envNumber('OMA_BENCH_START_RATE', 100_000);
const MAX_RATE = envNumber('OMA_BENCH_MAX_RATE', 1_600_000);
const REFINE = envNumber('OMA_BENCH_REFINE', 2);
const SENDERS = envNumber('OMA_BENCH_SENDERS', 1);
const SIZE = envNumber('OMA_BENCH_SYSLOG_SIZE', 150);
const JOURNAL_ENTRIES = envNumber('OMA_BENCH_JOURNAL_ENTRIES', 1_000_000);
const PARTS = new Set((process.env.OMA_BENCH_LINUX ?? 'udp,unix,tcp,rsyslog,journald').split(',').map((s) => s.trim()));
const FLUENT_BIT = process.env.FLUENT_BIT || undefined;
const JOURNAL_REMOTE = '/lib/systemd/systemd-journal-remote';
/** How long the stand-in's count may stay unchanged before a step counts what it has. */
const SETTLE_MS = 3000;
/** Confirmations tried, each CONFIRM_STEP times the last rate, before the search gives up. */
const CONFIRM_TRIES = 3;
const CONFIRM_STEP = 0.8;
const RCVBUF = 4 * 1024 * 1024;
const DCR = `dcr-${'0'.repeat(28)}0bec`;
const TENANT = '0e0e0e0e-0000-4000-8000-00000000a11d';

type Transport = 'udp' | 'unix' | 'tcp';
type Agent = 'oma' | 'fluent-bit';

interface Receiver {
  readonly child: ChildProcess;
  readonly out: () => string;
}

/** Where a step's receiver listens. */
type Listen = { readonly transport: 'udp' | 'tcp'; readonly port: number } | { readonly transport: 'unix'; readonly path: string };

// ---------------------------------------------------------------------------------------------------------------
// Receivers: the agent and Fluent Bit, configured for one transport (or the journal) into the stand-in.

function omaDestination(standin: Standin): string[] {
  const q = JSON.stringify;
  return [
    'destinations:',
    '  dest:',
    '    type: azure_logs_ingestion',
    `    endpoint: ${q(standin.url)}`,
    `    dcrImmutableId: ${DCR}`,
    '    auth:',
    '      type: client_secret',
    `      tenantId: ${q(TENANT)}`,
    `      clientId: ${BENCH_CLIENT_ID}`,
    "      clientSecret: 'bench-secret'",
    `      authorityHost: ${q(standin.url)}`,
    '',
  ];
}

function omaConfig(dir: string, standin: Standin, source: string[], metricsPort?: number): string {
  const file = join(dir, `oma-${Date.now()}.yaml`);
  writeFileSync(
    file,
    [
      `dataDir: ${JSON.stringify(join(dir, `data-${Date.now()}`))}`,
      'statusIntervalMs: 0',
      metricsPort === undefined ? 'observability: { enabled: false }' : `observability: { enabled: true, host: 127.0.0.1, port: ${metricsPort} }`,
      'log: { level: warn }',
      'sources:',
      ...source.map((l) => `  ${l}`),
      ...omaDestination(standin),
    ].join('\n'),
  );
  return file;
}

function omaSyslogSource(listen: Listen): string[] {
  const t =
    listen.transport === 'unix'
      ? `unix: { path: ${JSON.stringify(listen.path)}, receiveBufferBytes: ${RCVBUF} }`
      : `${listen.transport}: { host: 127.0.0.1, port: ${listen.port}${listen.transport === 'udp' ? `, receiveBufferBytes: ${RCVBUF}` : ''} }`;
  return ['syslog:', '  type: syslog', `  ${t}`];
}

/**
 * Fluent Bit's parser for the mixed load: RFC 3164 or RFC 5424 after a common PRI (one regex, as its
 * syslog input takes one parser; a message that does not match would be dropped). Its time stamps are
 * not parsed (the two formats differ): records get the time of receipt.
 */
const FB_PARSERS = [
  '[PARSER]',
  '    Name   syslog-mixed',
  '    Format regex',
  '    Regex  ^\\<(?<pri>[0-9]{1,5})\\>(?:1 (?<time5>[^ ]+) (?<host5>[^ ]+) (?<ident5>[^ ]+) (?<pid5>[-0-9]+) (?<msgid>[^ ]+) (?<extradata>(?:\\[.*?\\])+|-) (?<message5>.+)|(?<time>[^ ]* {1,2}[^ ]* [^ ]*) (?<host>[^ ]*) (?<ident>[a-zA-Z0-9_\\/\\.\\-]*)(?:\\[(?<pid>[0-9]+)\\])?(?:[^\\:]*\\:)? *(?<message>.*))$',
  '',
].join('\n');

function fbConfig(dir: string, standin: Standin, input: string[]): string {
  const parsers = join(dir, 'fb-parsers.conf');
  writeFileSync(parsers, FB_PARSERS);
  const file = join(dir, `fb-${Date.now()}.conf`);
  writeFileSync(
    file,
    [
      '[SERVICE]',
      '    Flush 1',
      '    Log_Level warn',
      `    Parsers_File ${parsers}`,
      '[INPUT]',
      ...input.map((l) => `    ${l}`),
      '[OUTPUT]',
      '    Name azure_logs_ingestion',
      '    Match *',
      `    tenant_id ${TENANT}`,
      `    client_id ${BENCH_CLIENT_ID}`,
      '    client_secret bench-secret',
      `    dce_url ${standin.url}`,
      `    auth_url ${standin.url}/${TENANT}/oauth2/v2.0/token`,
      `    dcr_id ${DCR}`,
      '    table_name Syslog_CL',
      '    time_generated true',
      '    compress true',
      '    tls off',
      '',
    ].join('\n'),
  );
  return file;
}

function fbSyslogInput(listen: Listen): string[] {
  const common = ['Name syslog', 'Parser syslog-mixed'];
  if (listen.transport === 'unix') return [...common, 'Mode unix_udp', `Path ${listen.path}`, 'Unix_Perm 0666', 'Buffer_Chunk_Size 65536'];
  if (listen.transport === 'udp') {
    return [...common, 'Mode udp', 'Listen 127.0.0.1', `Port ${listen.port}`, `Buffer_Chunk_Size ${RCVBUF}`, `Receive_Buffer_Size ${RCVBUF}`];
  }
  return [...common, 'Mode tcp', 'Listen 127.0.0.1', `Port ${listen.port}`, 'Format octet_counting', 'Buffer_Chunk_Size 1M', 'Buffer_Max_Size 4M'];
}

function spawnFluentBit(config: string): Receiver {
  let out = '';
  const child = spawn(FLUENT_BIT!, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-20_000)));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-20_000)));
  return { child, out: () => out };
}

function startReceiver(agent: Agent, dir: string, standin: Standin, listen: Listen, metricsPort: number): Receiver {
  if (agent === 'oma') return spawnOma(['run', '--config', omaConfig(dir, standin, omaSyslogSource(listen), metricsPort)]);
  return spawnFluentBit(fbConfig(dir, standin, fbSyslogInput(listen)));
}

async function freePort(kind: 'udp' | 'tcp'): Promise<number> {
  if (kind === 'udp') {
    return new Promise((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    });
  }
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Waits until the receiver listens (UDP port bound, TCP port accepting, socket file present). */
async function waitListening(r: Receiver, listen: Listen): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (r.child.exitCode !== null || r.child.signalCode !== null) throw new Error(`the receiver exited at start:\n${r.out()}`);
    const ready = listen.transport === 'unix' ? existsSync(listen.path) : listen.transport === 'udp' ? udpSocketDrops(listen.port).bound : await tcpAccepts(listen.port);
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`the receiver did not listen within 30 s:\n${r.out()}`);
    await delay(50);
  }
}

/** Waits until the stand-in holds `expected` records or its count has not moved for SETTLE_MS; the count. */
async function settle(standin: Standin, expected: number): Promise<number> {
  let last = standin.stats().records;
  let changed = Date.now();
  while (last < expected && Date.now() - changed < SETTLE_MS) {
    await delay(100);
    const now = standin.stats().records;
    if (now !== last) {
      last = now;
      changed = Date.now();
    }
  }
  return last;
}

// ---------------------------------------------------------------------------------------------------------------
// Syslog: one step, the search, the confirmation.

export interface SyslogStep {
  readonly agent: Agent;
  readonly transport: Transport;
  readonly windowSec: number;
  readonly requestedRate: number;
  readonly sendRate: number;
  readonly sent: number;
  readonly stored: number;
  /** Datagrams the kernel dropped at the receiver's UDP socket during the step. */
  readonly kernelDrops: number;
  /** OMA: the records its syslog source discarded, by reason (from its /metrics). */
  readonly agentDrops: Record<string, number>;
  readonly cpuSec: number;
  readonly cpuUsPerMsg: number;
  readonly peakRssMiB: number;
  readonly lossFree: boolean;
}

async function syslogStep(agent: Agent, transport: Transport, rate: number, windowSec: number, dir: string): Promise<SyslogStep> {
  const standin = await startStandin();
  const listen: Listen = transport === 'unix' ? { transport, path: join(dir, `s-${Date.now()}.sock`) } : { transport, port: await freePort(transport) };
  const metricsPort = await freePort('tcp');
  const receiver = startReceiver(agent, dir, standin, listen, metricsPort);
  const pid = receiver.child.pid!;
  const sampler = new ProcSampler(pid, 250);
  try {
    await waitListening(receiver, listen);
    const cpu0 = sampler.sample()?.cpuSec ?? 0;
    const udpPort = listen.transport === 'udp' ? listen.port : undefined;
    const drops0 = udpPort === undefined ? 0 : udpSocketDrops(udpPort).drops;
    const target: BlastTarget = listen.transport === 'unix' ? { transport: 'unix', socket: listen.path } : { transport: listen.transport, host: '127.0.0.1', port: listen.port };
    const count = Math.round(rate * windowSec);
    // Unix and TCP senders block on a full receiver; a little slack lets a short stall catch up, no more.
    const sent = await sendBlast(target, { ratePerSec: rate, count, maxDurationSec: windowSec * 1.02 + 0.5, sizeBytes: SIZE, threads: SENDERS, runId: 'bench' });
    const stored = await settle(standin, sent.sent);
    const last = sampler.sample();
    if (receiver.child.exitCode !== null) throw new Error(`the receiver exited during the step:\n${receiver.out()}`);
    const cpuSec = (last?.cpuSec ?? NaN) - cpu0;
    const drops = agent === 'oma' ? await agentDrops(metricsPort) : {};
    const stats = standin.stats();
    if (stats.bad > 0 || stats.overLimit > 0) process.stdout.write(`  the stand-in refused ${stats.bad} bad and ${stats.overLimit} over-limit calls\n`);
    return {
      agent,
      transport,
      windowSec,
      requestedRate: rate,
      sendRate: Math.round(sent.achievedRate),
      sent: sent.sent,
      stored,
      kernelDrops: udpPort === undefined ? 0 : Math.max(0, udpSocketDrops(udpPort).drops - drops0),
      agentDrops: drops,
      cpuSec: round(cpuSec),
      cpuUsPerMsg: stored > 0 ? round((cpuSec * 1e6) / stored) : NaN,
      peakRssMiB: mib(last?.peakRssBytes),
      lossFree: sent.sent >= count && stored >= sent.sent && sent.achievedRate >= rate * 0.97,
    };
  } finally {
    sampler.stop();
    await stopProcess(receiver.child, 10_000);
    await standin.close();
  }
}

const DISCARDED = /^oma_component_discarded_records_total\{([^}]*)\} (\d+(?:\.\d+)?(?:e\+?\d+)?)$/gm;

/** The agent's discarded records by reason, from its metrics endpoint ({} when it cannot be read). */
async function agentDrops(port: number): Promise<Record<string, number>> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(DISCARDED)) {
      const reason = /reason="([^"]*)"/.exec(m[1]!)?.[1] ?? '?';
      const n = Number(m[2]);
      if (n > 0) out[reason] = (out[reason] ?? 0) + n;
    }
    return out;
  } catch {
    return {};
  }
}

function verdict(s: SyslogStep): string {
  if (s.lossFree) return '';
  if (s.stored < s.sent) return ' [lost]';
  return ' [fell behind: the sender was held back]';
}

function describe(s: SyslogStep): string {
  return `  ${s.agent} ${s.transport} ${s.windowSec} s at ${s.requestedRate}/s (sent at ${s.sendRate}/s): ${s.stored}/${s.sent} stored` +
    `${s.transport === 'udp' ? `, ${s.kernelDrops} kernel drops` : ''}${Object.entries(s.agentDrops).map(([k, v]) => `, ${v} ${k}`).join('')}, ${s.cpuUsPerMsg} us CPU/msg, peak RSS ${s.peakRssMiB} MiB${verdict(s)}\n`;
}

export interface SyslogResult {
  readonly agent: Agent;
  readonly transport: Transport;
  /** The confirmed step (full window), or undefined when no rate held. */
  readonly best: SyslogStep | undefined;
  readonly steps: SyslogStep[];
}

async function searchSyslog(agent: Agent, transport: Transport, dir: string): Promise<SyslogResult> {
  const steps: SyslogStep[] = [];
  const run = async (rate: number, windowSec: number): Promise<SyslogStep> => {
    const s = await syslogStep(agent, transport, Math.round(rate), windowSec, dir);
    steps.push(s);
    process.stdout.write(describe(s));
    return s;
  };
  let good = 0;
  let bad: number | undefined;
  for (let rate = START_RATE; rate <= MAX_RATE; rate *= 2) {
    if ((await run(rate, SEARCH_S)).lossFree) good = rate;
    else {
      bad = rate;
      break;
    }
  }
  if (bad !== undefined) {
    let lo = good;
    let hi = bad;
    if (lo === 0) {
      // Nothing held from the start: search down.
      for (let rate = START_RATE / 2; rate >= 1000; rate /= 2) {
        if ((await run(rate, SEARCH_S)).lossFree) {
          lo = rate;
          break;
        }
        hi = rate;
      }
    }
    for (let i = 0; i < REFINE && lo > 0; i++) {
      const mid = (lo + hi) / 2;
      if ((await run(mid, SEARCH_S)).lossFree) lo = mid;
      else hi = mid;
    }
    good = lo;
  }
  let best: SyslogStep | undefined;
  for (let i = 0, rate = good; i < CONFIRM_TRIES && rate > 0 && best === undefined; i++, rate *= CONFIRM_STEP) {
    const s = await run(rate, WINDOW_S);
    if (s.lossFree) best = s;
  }
  return { agent, transport, best, steps };
}

// ---------------------------------------------------------------------------------------------------------------
// rsyslog's CPU per message at a given rate.

interface RsyslogResult {
  readonly rate: number;
  readonly sendRate: number;
  readonly sent: number;
  readonly written: number;
  readonly cpuUsPerMsg: number;
  readonly lossFree: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// journald.

const T0_US = 1_700_000_000_000_000;
const UNITS = ['nginx.service', 'sshd.service', 'cron.service', 'postgresql.service', 'kernel'];

/** Export-format text of entries [from, to): the fields a journald entry typically has. */
function exportChunk(from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) {
    const unit = UNITS[i % UNITS.length]!;
    s += `__REALTIME_TIMESTAMP=${T0_US + i * 100}\n__MONOTONIC_TIMESTAMP=${1_000_000 + i * 100}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n`;
    s += `_HOSTNAME=bench-host\nPRIORITY=${i % 8}\nSYSLOG_FACILITY=${i % 24}\n_TRANSPORT=${unit === 'kernel' ? 'kernel' : 'journal'}\n`;
    s += unit === 'kernel'
      ? 'SYSLOG_IDENTIFIER=kernel\n'
      : `_SYSTEMD_UNIT=${unit}\nSYSLOG_IDENTIFIER=${unit.replace('.service', '')}\n_PID=${1000 + (i % 5000)}\n_COMM=${unit.slice(0, 6)}\n_UID=0\n`;
    s += `MESSAGE=request ${i} served in ${i % 997} ms from 10.0.${i % 256}.${(i >> 8) % 256} path=/api/v1/items/${i % 10007} status=200\n\n`;
  }
  return s;
}

async function makeJournal(file: string, n: number): Promise<void> {
  const child = spawn(JOURNAL_REMOTE, [`--output=${file}`, '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
  const done = new Promise<void>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`systemd-journal-remote exited ${code}: ${err}`)))));
  for (let i = 0; i < n; i += 10_000) {
    if (!child.stdin.write(exportChunk(i, Math.min(n, i + 10_000)))) await new Promise((r) => child.stdin.once('drain', r));
  }
  child.stdin.end();
  await done;
}

export interface JournalRow {
  readonly what: string;
  readonly entries: number;
  readonly seconds: number;
  readonly entriesPerSec: number;
  /** Agents: entries/s from the first call the stand-in received to the last (start-up left out). */
  readonly steadyPerSec: number | null;
  readonly cpuSec: number | null;
  readonly peakRssMiB: number | null;
}

/** `journalctl -D dir -o FORMAT > /dev/null`: wall time, CPU (its rusage) and peak RSS. */
function journalctl(dir: string, format: string, n: number): JournalRow {
  const devnull = openSync('/dev/null', 'w');
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', 'journalctl', '-D', dir, '-o', format], { stdio: ['ignore', devnull, 'pipe'] });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  closeSync(devnull);
  if (r.status !== 0) throw new Error(`journalctl failed: ${r.stderr.toString()}`);
  const [user, sys, rss] = r.stderr.toString().trim().split('\n').pop()!.split(' ').map(Number);
  return { what: `journalctl -o ${format} > /dev/null`, entries: n, seconds: round(seconds), entriesPerSec: Math.round(n / seconds), steadyPerSec: null, cpuSec: round(user! + sys!), peakRssMiB: round(rss! / 1024) };
}

/** The agent's journald source (or Fluent Bit's systemd input) on `dir` from its start to the last entry stored. */
async function journalToStandin(agent: Agent, dir: string, work: string, n: number): Promise<JournalRow> {
  const standin = await startStandin();
  const t0 = Date.now();
  const receiver =
    agent === 'oma'
      ? spawnOma(['run', '--config', omaConfig(work, standin, ['journal:', '  type: journald', `  directory: ${JSON.stringify(dir)}`, '  startAt: head'])])
      : spawnFluentBit(fbConfig(work, standin, ['Name systemd', `Path ${dir}`, 'Read_From_Tail Off']));
  const sampler = new ProcSampler(receiver.child.pid!, 250);
  try {
    const deadline = t0 + 600_000;
    while (standin.stats().records < n) {
      if (receiver.child.exitCode !== null) throw new Error(`${agent} exited early:\n${receiver.out()}`);
      if (Date.now() > deadline) throw new Error(`${agent}: ${standin.stats().records}/${n} entries after 600 s\n${receiver.out()}`);
      await delay(50);
    }
    const last = sampler.sample();
    const stats = standin.stats();
    const seconds = (stats.lastAtMs - t0) / 1000;
    const steady = (stats.lastAtMs - stats.firstAtMs) / 1000;
    const what = agent === 'oma' ? 'OMA journald source → stand-in (from start)' : 'Fluent Bit systemd input → stand-in (from start)';
    return { what, entries: standin.stats().records, seconds: round(seconds), entriesPerSec: Math.round(n / seconds), steadyPerSec: steady > 0 ? Math.round(n / steady) : null, cpuSec: round(last?.cpuSec ?? NaN), peakRssMiB: mib(last?.peakRssBytes) };
  } finally {
    sampler.stop();
    await stopProcess(receiver.child, 10_000);
    await standin.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------

export interface LinuxSourcesResult {
  readonly syslog: SyslogResult[];
  readonly rsyslog: RsyslogResult | null;
  readonly journal: JournalRow[];
  readonly settings: Record<string, number | string | boolean>;
  readonly loadAverageAtStart: string;
  readonly machine: string;
  readonly node: string;
  readonly date: string;
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}×` : '-';
}

async function main(): Promise<void> {
  if (process.platform !== 'linux') {
    process.stdout.write('linux-sources: Linux only; skipped\n');
    return;
  }
  if (!blastAvailable()) throw new Error('oma-blast is not built: npm run build -w @oma/loadgen');
  if (FLUENT_BIT && !existsSync(FLUENT_BIT)) throw new Error(`FLUENT_BIT names no file: ${FLUENT_BIT}`);
  const loadAverageAtStart = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim();
  process.stdout.write(`load average at start: ${loadAverageAtStart}\n`);
  const agents: Agent[] = FLUENT_BIT ? ['oma', 'fluent-bit'] : ['oma'];
  if (!FLUENT_BIT) process.stdout.write('FLUENT_BIT is not set: Fluent Bit is not run\n');
  const dir = mkdtempSync(join(tmpdir(), 'oma-bench-linux-'));
  const t0 = Date.now();
  try {
    const syslog: SyslogResult[] = [];
    for (const transport of ['udp', 'unix', 'tcp'] as const) {
      if (!PARTS.has(transport)) continue;
      for (const agent of agents) {
        process.stdout.write(`syslog ${transport}, ${agent}:\n`);
        syslog.push(await searchSyslog(agent, transport, dir));
      }
    }
    let rsyslog: RsyslogResult | null = null;
    if (PARTS.has('rsyslog')) {
      // At OMA's loss-free UDP rate; without one, at the highest rate any UDP step held.
      const udpSteps = syslog.filter((r) => r.transport === 'udp').flatMap((r) => r.steps.filter((x) => x.lossFree));
      const rate = syslog.find((r) => r.agent === 'oma' && r.transport === 'udp')?.best?.requestedRate ?? Math.max(START_RATE / 2, ...udpSteps.map((x) => x.requestedRate));
      process.stdout.write(`rsyslog imudp → omfile at ${rate}/s for ${WINDOW_S} s:\n`);
      try {
        const s = await measureRsyslogUdp(rate, { durationSec: WINDOW_S, sizeBytes: SIZE, rcvbufBytes: RCVBUF, senders: SENDERS, fast: true, settleMs: SETTLE_MS });
        rsyslog = { rate, sendRate: s.sendRate, sent: s.sent, written: s.written, cpuUsPerMsg: round(s.cpuUsPerMsg), lossFree: s.lossFree };
        process.stdout.write(`  ${s.written}/${s.sent} written, ${rsyslog.cpuUsPerMsg} us CPU/msg\n`);
      } catch (err) {
        process.stdout.write(`  rsyslog not measured: ${(err as Error).message}\n`);
      }
    }
    const journal: JournalRow[] = [];
    if (PARTS.has('journald') && JOURNAL_ENTRIES > 0) {
      if (!existsSync(JOURNAL_REMOTE)) process.stdout.write(`journald: ${JOURNAL_REMOTE} not installed; skipped\n`);
      else {
        const jdir = join(dir, 'journal');
        const t = Date.now();
        spawnSync('mkdir', ['-p', jdir]);
        await makeJournal(join(jdir, 'x.journal'), JOURNAL_ENTRIES);
        const files = readdirSync(jdir);
        const size = files.reduce((a, f) => a + statSync(join(jdir, f)).size, 0);
        process.stdout.write(`journald: ${JOURNAL_ENTRIES} entries made in ${((Date.now() - t) / 1000).toFixed(1)} s (${files.length} files, ${mib(size)} MiB)\n`);
        for (const format of ['export', 'json']) journal.push(journalctl(jdir, format, JOURNAL_ENTRIES));
        for (const agent of agents) journal.push(await journalToStandin(agent, jdir, dir, JOURNAL_ENTRIES));
        for (const r of journal) process.stdout.write(`  ${r.what}: ${r.entriesPerSec} entries/s\n`);
      }
    }
    const result: LinuxSourcesResult = {
      syslog,
      rsyslog,
      journal,
      settings: { windowSec: WINDOW_S, searchSec: SEARCH_S, startRate: START_RATE, refine: REFINE, senders: SENDERS, sizeBytes: SIZE, journalEntries: JOURNAL_ENTRIES, fluentBit: !!FLUENT_BIT },
      loadAverageAtStart,
      machine: machine(),
      node: process.version,
      date: today(),
    };
    writeResult('linux-sources', result);
    const best = (agent: Agent, t: Transport): SyslogStep | undefined => syslog.find((r) => r.agent === agent && r.transport === t)?.best;
    const rows = [
      `Syslog: highest loss-free rate over ${WINDOW_S} s, sender → stand-in (${SIZE}-byte messages, RFC 3164 and 5424 alternately). ${machine()}, Node ${process.version}, ${today()}, load average at start ${loadAverageAtStart.split(' ').slice(0, 3).join(' ')}.`,
      '',
      '| transport | agent | msg/s | CPU µs/msg | peak RSS MiB | OMA / Fluent Bit (msg/s) |',
      '| --- | --- | ---: | ---: | ---: | ---: |',
    ];
    for (const r of syslog) {
      const b = r.best;
      const vs = r.agent === 'oma' && FLUENT_BIT ? ratio(b?.requestedRate, best('fluent-bit', r.transport)?.requestedRate) : '';
      rows.push(`| ${r.transport} | ${r.agent} | ${b ? b.requestedRate : 'none held'} | ${b ? b.cpuUsPerMsg : '-'} | ${b ? b.peakRssMiB : '-'} | ${vs} |`);
    }
    if (rsyslog) {
      // OMA's CPU per message at the same rate: its confirmed UDP step, else its last step at that rate.
      const omaUdp = syslog.find((r) => r.agent === 'oma' && r.transport === 'udp');
      const oma = omaUdp?.best ?? omaUdp?.steps.filter((x) => x.requestedRate === rsyslog?.rate).pop();
      rows.push(`| udp | rsyslog imudp → omfile, ${WINDOW_S} s at ${rsyslog.rate}/s | ${rsyslog.lossFree ? 'no loss' : `lost ${rsyslog.sent - rsyslog.written}`} | ${rsyslog.cpuUsPerMsg} | - | OMA / rsyslog, CPU per msg: ${ratio(oma?.cpuUsPerMsg, rsyslog.cpuUsPerMsg)} |`);
    }
    if (journal.length > 0) {
      const oma = journal.find((r) => r.what.startsWith('OMA'));
      rows.push('', `Journald: ${JOURNAL_ENTRIES} entries made by systemd-journal-remote; read → delivered.`, '', '| reader | entries/s | first → last call, entries/s | seconds | CPU s | peak RSS MiB | OMA / this (entries/s) |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
      for (const r of journal) rows.push(`| ${r.what} | ${r.entriesPerSec} | ${r.steadyPerSec ?? '-'} | ${r.seconds} | ${r.cpuSec ?? '-'} | ${r.peakRssMiB ?? '-'} | ${r === oma ? '' : ratio(oma?.entriesPerSec, r.entriesPerSec)} |`);
    }
    replaceDocTable('linux-sources', rows);
    process.stdout.write(`linux-sources: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
