/**
 * Benchmark: custom-log tail -> durable queue -> Logs Ingestion sink -> local workspace.
 *
 * Generates a file of 1,000,000 lines (about 100 bytes each), starts `oma workspace serve` and `oma run`
 * as separate processes, and measures the agent process from start until the workspace holds every line:
 * records/s, MB/s, CPU seconds and peak RSS. Writes bench-results/custom-log-e2e.json and the table in
 * docs/benchmarks.md. Run with `npm run bench` (after `npm ci`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listTables, readQueryToken } from '@oma/local-workspace';
import { sampleProc, type ProcSample } from './proc-stats.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const OMA = join(REPO, 'packages', 'cli', 'bin', 'oma.js');
const LINES = Number(process.env.OMA_BENCH_LINES ?? 1_000_000);
const BENCH_CLIENT_ID = '0e0e0e0e-0000-4000-8000-000000000bec';
const TIMEOUT_MS = Number(process.env.OMA_BENCH_TIMEOUT_MS ?? 600_000);

function spawnOma(args: string[]): { child: ChildProcess; out: () => string } {
  let out = '';
  const child = spawn(process.execPath, [OMA, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { child, out: () => out };
}

async function waitFor(out: () => string, re: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
  const end = Date.now() + ms;
  for (;;) {
    const m = out().match(re);
    if (m) return m;
    if (Date.now() > end) throw new Error(`timed out waiting for ${re}:\n${out()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function generate(file: string, lines: number): Promise<number> {
  const ws = createWriteStream(file);
  const pad = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor';
  for (let i = 0; i < lines; i += 10_000) {
    let chunk = '';
    for (let j = i; j < Math.min(lines, i + 10_000); j++) chunk += `2026-01-01T00:00:00.000Z INFO request ${j} ${pad}\n`;
    if (!ws.write(chunk)) await new Promise<void>((r) => ws.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => ws.end((err?: Error | null) => (err ? j(err) : r())));
  return statSync(file).size;
}

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
    const bytes = await generate(file, LINES);
    const secret = 'bench-secret';
    const ws = spawnOma(['workspace', 'serve', '--data-dir', join(dir, 'ws'), '--client-id', BENCH_CLIENT_ID, '--client-secret', secret]);
    procs.push(ws.child);
    const url = (await waitFor(ws.out, /listening on (http:\/\/\S+)/))[1]!;
    const tenant = (await waitFor(ws.out, /tenant: +(\S+)/))[1]!;
    const dcr = (await waitFor(ws.out, /DCR: +(\S+)/))[1]!;
    const config = join(dir, 'oma.yaml');
    writeFileSync(
      config,
      [
        `dataDir: ${join(dir, 'data')}`,
        'statusIntervalMs: 0',
        'observability: { enabled: false }',
        'log: { level: warn }',
        'sources:',
        '  bench:',
        '    type: custom_log',
        '    table: Bench_CL',
        `    filePatterns: ["${logDir}/*.log"]`,
        '    startAt: beginning',
        'destinations:',
        '  ws:',
        '    type: azure_logs_ingestion',
        `    endpoint: ${url}`,
        `    dcrImmutableId: ${dcr}`,
        '    auth:',
        '      type: client_secret',
        `      tenantId: ${tenant}`,
        `      clientId: ${BENCH_CLIENT_ID}`,
        `      clientSecret: ${secret}`,
        `      authorityHost: ${url}`,
        '',
      ].join('\n'),
    );
    process.stdout.write(`running the agent on ${(bytes / 1e6).toFixed(1)} MB...\n`);
    const t0 = process.hrtime.bigint();
    const agent = spawnOma(['run', '--config', config]);
    procs.push(agent.child);
    const pid = agent.child.pid!;
    let last: ProcSample | undefined;
    const sampler = setInterval(() => (last = sampleProc(pid) ?? last), 100);
    const deadline = Date.now() + TIMEOUT_MS;
    let rows = 0;
    // /query takes the token the workspace wrote into its data directory.
    const queryToken = readQueryToken(join(dir, 'ws'));
    while ((rows = await rowCount(url, queryToken, 'Bench_CL').catch(() => rows)) < LINES) {
      if (Date.now() > deadline) throw new Error(`timed out with ${rows}/${LINES} rows\n${agent.out()}`);
      if (agent.child.exitCode !== null) throw new Error(`agent exited early:\n${agent.out()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    last = sampleProc(pid) ?? last;
    clearInterval(sampler);
    const result: BenchResult = {
      name: 'custom_log tail -> local workspace',
      lines: LINES,
      bytes,
      seconds: round(seconds),
      recordsPerSec: Math.round(LINES / seconds),
      mbPerSec: round(bytes / 1e6 / seconds),
      agentCpuSec: round(last?.cpuSec ?? NaN),
      agentPeakRssMiB: round((last?.peakRssBytes ?? NaN) / 1024 / 1024),
      machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
      node: process.version,
      date: new Date().toISOString().slice(0, 10),
    };
    report(result);
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

const BEGIN = '<!-- bench:custom-log-e2e:begin -->';
const END = '<!-- bench:custom-log-e2e:end -->';

function report(r: BenchResult): void {
  const outDir = join(REPO, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'custom-log-e2e.json'), `${JSON.stringify(r, null, 2)}\n`);
  const table = [
    BEGIN,
    '| benchmark | lines | MB | seconds | records/s | MB/s | agent CPU s | agent peak RSS MiB | machine | node | date |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |',
    `| ${r.name} | ${r.lines} | ${(r.bytes / 1e6).toFixed(1)} | ${r.seconds} | ${r.recordsPerSec} | ${r.mbPerSec} | ${r.agentCpuSec} | ${r.agentPeakRssMiB} | ${r.machine} | ${r.node} | ${r.date} |`,
    END,
  ].join('\n');
  const docs = join(REPO, 'docs', 'benchmarks.md');
  if (existsSync(docs)) {
    const text = readFileSync(docs, 'utf8');
    const a = text.indexOf(BEGIN);
    const b = text.indexOf(END);
    if (a >= 0 && b > a) writeFileSync(docs, `${text.slice(0, a)}${table}${text.slice(b + END.length)}`);
  }
  process.stdout.write(`${table}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  process.exitCode = 1;
});
