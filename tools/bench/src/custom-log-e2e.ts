/**
 * Benchmark: custom-log tail -> durable queue -> Logs Ingestion sink -> local workspace.
 *
 * Generates a file of 1,000,000 lines (about 100 bytes each), starts `oma workspace serve` and `oma run`
 * as separate processes, and measures the agent process from start until the workspace holds every line:
 * records/s, MB/s, CPU seconds and peak RSS. Writes bench-results/custom-log-e2e.json and the table in
 * docs/benchmarks.md. Run with `npm run bench` (after `npm ci`).
 */
import { type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listTables, readQueryToken } from '@oma/local-workspace';
import {
  agentConfigYaml,
  BENCH_CLIENT_ID,
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
  today,
  waitFor,
  writeResult,
} from './harness.js';

const LINES = envNumber('OMA_BENCH_LINES', 1_000_000);
const TIMEOUT_MS = envNumber('OMA_BENCH_TIMEOUT_MS', 600_000);
const PAD = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor';

async function rowCount(url: string, queryToken: string | undefined, table: string): Promise<number> {
  const tables = await listTables({ url, ...(queryToken ? { queryToken } : {}) });
  return tables.find((t) => t.name === table)?.rowCount ?? 0;
}

export interface BenchResult {
  readonly name: string;
  readonly lines: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly agentCpuSec: number;
  readonly agentPeakRssMiB: number;
  readonly machine: string;
  readonly node: string;
  readonly date: string;
}

async function main(): Promise<void> {
  if (process.platform !== 'linux') throw new Error('this benchmark reads /proc: run it on Linux');
  const dir = mkdtempSync(join(tmpdir(), 'oma-bench-'));
  const procs: ChildProcess[] = [];
  try {
    const logDir = join(dir, 'logs');
    mkdirSync(logDir);
    const file = join(logDir, 'bench.log');
    process.stdout.write(`generating ${LINES} lines...\n`);
    const bytes = await generate(file, LINES, (j) => `2026-01-01T00:00:00.000Z INFO request ${j} ${PAD}\n`);
    const secret = 'bench-secret';
    const ws = spawnOma(['workspace', 'serve', '--data-dir', join(dir, 'ws'), '--client-id', BENCH_CLIENT_ID, '--client-secret', secret]);
    procs.push(ws.child);
    const url = (await waitFor(ws.out, /listening on (http:\/\/\S+)/))[1]!;
    const tenant = (await waitFor(ws.out, /tenant: +(\S+)/))[1]!;
    const dcr = (await waitFor(ws.out, /DCR: +(\S+)/))[1]!;
    const config = join(dir, 'oma.yaml');
    writeFileSync(
      config,
      agentConfigYaml({
        dataDir: join(dir, 'data'),
        filePatterns: [`${logDir}/*.log`],
        endpoint: url,
        dcrImmutableId: dcr,
        tenantId: tenant,
        clientSecret: secret,
        authorityHost: url,
      }),
    );
    process.stdout.write(`running the agent on ${(bytes / 1e6).toFixed(1)} MB...\n`);
    const t0 = process.hrtime.bigint();
    const agent = spawnOma(['run', '--config', config]);
    procs.push(agent.child);
    const sampler = new ProcSampler(agent.child.pid!, 100);
    const deadline = Date.now() + TIMEOUT_MS;
    let rows = 0;
    // /query takes the token the workspace wrote into its data directory.
    const queryToken = readQueryToken(join(dir, 'ws'));
    while ((rows = await rowCount(url, queryToken, 'Bench_CL').catch(() => rows)) < LINES) {
      if (Date.now() > deadline) throw new Error(`timed out with ${rows}/${LINES} rows\n${agent.out()}`);
      if (agent.child.exitCode !== null) throw new Error(`agent exited early:\n${agent.out()}`);
      await delay(100);
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    sampler.sample();
    const last = sampler.stop();
    const result: BenchResult = {
      name: 'custom_log tail -> local workspace',
      lines: LINES,
      bytes,
      seconds: round(seconds),
      recordsPerSec: Math.round(LINES / seconds),
      mbPerSec: round(bytes / 1e6 / seconds),
      agentCpuSec: round(last?.cpuSec ?? NaN),
      agentPeakRssMiB: mib(last?.peakRssBytes),
      machine: machine(),
      node: process.version,
      date: today(),
    };
    writeResult('custom-log-e2e', result);
    replaceDocTable('custom-log-e2e', [
      '| benchmark | lines | MB | seconds | records/s | MB/s | agent CPU s | agent peak RSS MiB | machine | node | date |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |',
      `| ${result.name} | ${result.lines} | ${(result.bytes / 1e6).toFixed(1)} | ${result.seconds} | ${result.recordsPerSec} | ${result.mbPerSec} | ${result.agentCpuSec} | ${result.agentPeakRssMiB} | ${result.machine} | ${result.node} | ${result.date} |`,
    ]);
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
