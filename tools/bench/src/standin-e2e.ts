/**
 * Benchmark: custom-log tail -> durable queue -> Logs Ingestion sink (gzip) -> a stand-in endpoint.
 *
 * The stand-in (standin-endpoint.ts) only inflates, parses and counts, so the agent has the machine's
 * cores to itself, unlike the local workspace, whose SQLite inserts compete with it. It runs in this
 * process; the agent runs as `oma run` in its own, and only the agent is measured (/proc/<pid>).
 *
 * 1. Throughput: 1,000,000 syslog-style lines of about 137 bytes (the data set of the side-by-side
 *    comparison with Fluent Bit), read from the beginning. Records/s from the agent's start to the stand-in's
 *    last record, records per CPU-second, CPU seconds, peak RSS (VmHWM), calls, the largest call and calls
 *    over the service's limits.
 * 2. Idle: the same configuration (plus a heartbeat source) on an empty file; RSS after 20 s.
 *
 * Writes bench-results/standin-e2e.json and the table in docs/benchmarks.md.
 * Environment: OMA_BENCH_LINES (1,000,000), OMA_BENCH_TIMEOUT_MS (600,000), OMA_BENCH_IDLE_MS (20,000; 0 skips
 * the idle run), OMA_BENCH_CPU_PROF=DIR (profiles the agent with `node --cpu-prof` into DIR and prints a summary
 * of each profile; results are then printed, not written, since the profiler slows the agent).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { seededRandom } from '@oma/core/testing';
import { formatSummary, readCpuProfile, summarizeCpuProfile } from './cpu-profile-summary.js';
import {
  agentConfigYaml,
  delay,
  envNumber,
  generate,
  machine,
  mib,
  ProcSampler,
  replaceDocTable,
  round,
  runMain,
  spawnOma,
  stopProcess,
  today,
  writeResult,
} from './harness.js';
import { startStandin, type StandinStats } from './standin-endpoint.js';

const LINES = envNumber('OMA_BENCH_LINES', 1_000_000);
const TIMEOUT_MS = envNumber('OMA_BENCH_TIMEOUT_MS', 600_000);
const IDLE_MS = envNumber('OMA_BENCH_IDLE_MS', 20_000);
const CPU_PROF_DIR = process.env.OMA_BENCH_CPU_PROF ? resolve(process.env.OMA_BENCH_CPU_PROF) : undefined;
const SAMPLE_MS = 250;
const DCR = `dcr-${'0'.repeat(28)}0bec`;
const TENANT = '0e0e0e0e-0000-4000-8000-00000000a11d';
const WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(' ');

/** Line `i` of the side-by-side data set: a syslog-style nginx line of about 137 bytes, nine random words at its end. */
function syslogLines(seed: number): (i: number) => string {
  const random = seededRandom(seed);
  const word = (): string => WORDS[Math.floor(random() * WORDS.length)]!;
  const pad = (n: number, width: number): string => String(n).padStart(width, '0');
  return (i) => {
    let msg = word();
    for (let k = 1; k < 9; k++) msg += ` ${word()}`;
    const time = `2026-11-21T10:${pad(Math.floor(i / 60_000) % 60, 2)}:${pad(Math.floor(i / 1000) % 60, 2)}.${pad(i % 1000, 3)}Z`;
    return `${time} web-${pad(i % 17, 2)} nginx[${1000 + (i % 500)}]: req=${pad(i, 8)} status=200 bytes=${i % 9000} ${msg}\n`;
  };
}

function writeConfig(dir: string, name: string, endpoint: string, file: string, heartbeat: boolean): string {
  const config = join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    agentConfigYaml({
      dataDir: join(dir, `${name}-data`),
      filePatterns: [file],
      heartbeat,
      endpoint,
      dcrImmutableId: DCR,
      tenantId: TENANT,
      clientSecret: 'bench-secret',
      authorityHost: endpoint,
    }),
  );
  return config;
}

interface Throughput {
  readonly seconds: number;
  readonly cpuSec: number;
  readonly peakRssBytes: number;
  readonly stats: StandinStats;
}

/** Runs the agent until the stand-in holds `lines` records; stops it (SIGTERM) and summarizes its profiles. */
async function throughput(dir: string, file: string, lines: number): Promise<Throughput> {
  const standin = await startStandin();
  try {
    const config = writeConfig(dir, 'throughput', standin.url, file, false);
    const nodeArgs = CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : [];
    const t0 = Date.now();
    const agent = spawnOma(['run', '--config', config], nodeArgs);
    const pid = agent.child.pid!;
    const sampler = new ProcSampler(pid, SAMPLE_MS);
    let result: Throughput;
    try {
      const deadline = t0 + TIMEOUT_MS;
      while (standin.stats().records < lines) {
        if (Date.now() > deadline) throw new Error(`timed out with ${standin.stats().records}/${lines} records\n${agent.out()}`);
        if (agent.child.exitCode !== null) throw new Error(`agent exited early:\n${agent.out()}`);
        await delay(50);
      }
      const last = sampler.sample();
      const stats = standin.stats();
      result = { seconds: (stats.lastAtMs - t0) / 1000, cpuSec: last?.cpuSec ?? NaN, peakRssBytes: last?.peakRssBytes ?? NaN, stats };
    } finally {
      sampler.stop();
      const code = await stopProcess(agent.child);
      if (code !== 0) process.stdout.write(`the agent exited with ${String(code ?? agent.child.signalCode)}:\n${agent.out()}\n`);
    }
    if (CPU_PROF_DIR) printProfiles(CPU_PROF_DIR, pid);
    return result;
  } finally {
    await standin.close();
  }
}

/** Prints a summary of each profile the agent `pid` wrote (one per thread). */
function printProfiles(dir: string, pid: number): void {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.`))
    .sort();
  if (files.length === 0) process.stdout.write(`no CPU profile of process ${pid} in ${dir}\n`);
  for (const f of files) {
    process.stdout.write(`\nCPU profile ${join(dir, f)}\n`);
    process.stdout.write(formatSummary(summarizeCpuProfile(readCpuProfile(join(dir, f)))));
  }
}

interface Idle {
  readonly rssBytes: number;
  readonly peakRssBytes: number;
  readonly cpuSec: number;
  readonly calls: number;
}

/** Runs the agent with nothing to send (an empty file and a heartbeat) for `ms`; its RSS at the end. */
async function idle(dir: string, ms: number): Promise<Idle> {
  const file = join(dir, 'idle', 'empty.log');
  mkdirSync(join(dir, 'idle'));
  writeFileSync(file, '');
  const standin = await startStandin();
  try {
    const agent = spawnOma(['run', '--config', writeConfig(dir, 'idle', standin.url, file, true)]);
    const sampler = new ProcSampler(agent.child.pid!, SAMPLE_MS);
    try {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (agent.child.exitCode !== null) throw new Error(`agent exited early:\n${agent.out()}`);
        await delay(Math.min(SAMPLE_MS, Math.max(0, end - Date.now())));
      }
      const last = sampler.sample();
      return { rssBytes: last?.rssBytes ?? NaN, peakRssBytes: last?.peakRssBytes ?? NaN, cpuSec: last?.cpuSec ?? NaN, calls: standin.stats().calls };
    } finally {
      sampler.stop();
      await stopProcess(agent.child);
    }
  } finally {
    await standin.close();
  }
}

export interface StandinBenchResult {
  readonly name: string;
  readonly lines: number;
  readonly bytes: number;
  /** Agent start to the stand-in's last record. */
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly recordsPerCpuSec: number;
  readonly agentCpuSec: number;
  readonly agentPeakRssMiB: number;
  readonly calls: number;
  readonly largestCallInflatedBytes: number;
  readonly largestCallWireBytes: number;
  readonly overLimitCalls: number;
  readonly badRequests: number;
  /** Idle run (empty file + heartbeat); null when skipped. */
  readonly idleSeconds: number | null;
  readonly idleRssMiB: number | null;
  readonly idlePeakRssMiB: number | null;
  readonly idleCpuSec: number | null;
  readonly machine: string;
  readonly node: string;
  readonly date: string;
}

async function main(): Promise<void> {
  if (process.platform !== 'linux') throw new Error('this benchmark reads /proc: run it on Linux');
  if (CPU_PROF_DIR) mkdirSync(CPU_PROF_DIR, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'oma-bench-standin-'));
  try {
    const file = join(dir, 'logs', 'bench.log');
    mkdirSync(join(dir, 'logs'));
    process.stdout.write(`generating ${LINES} lines...\n`);
    const bytes = await generate(file, LINES, syslogLines(7));
    process.stdout.write(`running the agent on ${(bytes / 1e6).toFixed(1)} MB into the stand-in endpoint...\n`);
    const run = await throughput(dir, file, LINES);
    let quiet: Idle | undefined;
    if (IDLE_MS > 0) {
      process.stdout.write(`running the agent idle for ${IDLE_MS / 1000} s...\n`);
      quiet = await idle(dir, IDLE_MS);
    }
    const s = run.stats;
    const result: StandinBenchResult = {
      name: 'custom_log tail -> stand-in Logs Ingestion (gzip)',
      lines: LINES,
      bytes,
      seconds: round(run.seconds),
      recordsPerSec: Math.round(LINES / run.seconds),
      recordsPerCpuSec: Math.round(LINES / run.cpuSec),
      agentCpuSec: round(run.cpuSec),
      agentPeakRssMiB: mib(run.peakRssBytes),
      calls: s.calls,
      largestCallInflatedBytes: s.maxInflatedBytes,
      largestCallWireBytes: s.maxWireBytes,
      overLimitCalls: s.overLimit,
      badRequests: s.bad,
      idleSeconds: quiet ? IDLE_MS / 1000 : null,
      idleRssMiB: quiet ? mib(quiet.rssBytes) : null,
      idlePeakRssMiB: quiet ? mib(quiet.peakRssBytes) : null,
      idleCpuSec: quiet ? round(quiet.cpuSec) : null,
      machine: machine(),
      node: process.version,
      date: today(),
    };
    const idleText = (v: number | null): string => (v === null ? '-' : String(v));
    const rows = [
      `| benchmark | lines | MB | seconds | records/s | records/CPU-s | agent CPU s | agent peak RSS MiB | calls | largest call inflated / wire | over-limit calls | idle RSS MiB (after ${idleText(result.idleSeconds)} s) | machine | node | date |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |',
      `| ${result.name} | ${result.lines} | ${(bytes / 1e6).toFixed(1)} | ${result.seconds} | ${result.recordsPerSec} | ${result.recordsPerCpuSec} | ${result.agentCpuSec} | ${result.agentPeakRssMiB} | ${result.calls} | ${(result.largestCallInflatedBytes / 1e6).toFixed(2)} MB / ${(result.largestCallWireBytes / 1e3).toFixed(0)} KB | ${result.overLimitCalls} | ${idleText(result.idleRssMiB)} | ${result.machine} | ${result.node} | ${result.date} |`,
    ];
    if (s.bad > 0) process.stdout.write(`the stand-in answered ${s.bad} bad requests\n`);
    if (CPU_PROF_DIR) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n(profiled run: results not written)\n`);
      return;
    }
    writeResult('standin-e2e', result);
    replaceDocTable('standin-e2e', rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
