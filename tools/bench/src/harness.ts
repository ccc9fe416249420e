/**
 * What the end-to-end benchmarks share: the `oma` command as a child process, the data file writer, the
 * agent's configuration, /proc sampling and the reporting of results (bench-results/*.json and a table
 * between markers in docs/benchmarks.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleProc, type ProcSample } from './proc-stats.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const OMA = join(REPO, 'packages', 'cli', 'bin', 'oma.js');
export const BENCH_CLIENT_ID = '0e0e0e0e-0000-4000-8000-000000000bec';

/** A numeric environment knob (`OMA_BENCH_*`), or its default. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return n;
}

export interface OmaProcess {
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  readonly out: () => string;
}

/** Runs `node [nodeArgs] oma.js args` with its output collected. */
export function spawnOma(args: string[], nodeArgs: readonly string[] = []): OmaProcess {
  let out = '';
  const child = spawn(process.execPath, [...nodeArgs, OMA, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { child, out: () => out };
}

export async function waitFor(out: () => string, re: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
  const end = Date.now() + ms;
  for (;;) {
    const m = out().match(re);
    if (m) return m;
    if (Date.now() > end) throw new Error(`timed out waiting for ${re}:\n${out()}`);
    await delay(50);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Sends SIGTERM and waits for the process to exit (SIGKILL after `graceMs`); resolves to its exit code. */
export async function stopProcess(child: ChildProcess, graceMs = 30_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Writes `lines` lines made by `lineAt(i)` (called in order, each ending with a newline); resolves to the file's size. */
export async function generate(file: string, lines: number, lineAt: (i: number) => string): Promise<number> {
  const ws = createWriteStream(file);
  for (let i = 0; i < lines; i += 10_000) {
    let chunk = '';
    for (let j = i; j < Math.min(lines, i + 10_000); j++) chunk += lineAt(j);
    if (!ws.write(chunk)) await new Promise<void>((r) => ws.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => ws.end((err?: Error | null) => (err ? j(err) : r())));
  return statSync(file).size;
}

export interface AgentConfigOptions {
  readonly dataDir: string;
  /** Files the `custom_log` source named `bench` tails from the beginning into table Bench_CL. */
  readonly filePatterns: readonly string[];
  /** Also run a `heartbeat` source. */
  readonly heartbeat?: boolean;
  readonly endpoint: string;
  readonly dcrImmutableId: string;
  readonly tenantId: string;
  readonly clientSecret: string;
  /** Where the client_secret credential asks for tokens. */
  readonly authorityHost: string;
}

/** The agent's YAML: quiet (no status lines, no metrics endpoint, warnings only), custom_log → azure_logs_ingestion. */
export function agentConfigYaml(o: AgentConfigOptions): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    `dataDir: ${q(o.dataDir)}`,
    'statusIntervalMs: 0',
    'observability: { enabled: false }',
    'log: { level: warn }',
    'sources:',
    ...(o.heartbeat ? ['  heartbeat:', '    type: heartbeat'] : []),
    '  bench:',
    '    type: custom_log',
    '    table: Bench_CL',
    `    filePatterns: [${o.filePatterns.map(q).join(', ')}]`,
    '    startAt: beginning',
    'destinations:',
    '  dest:',
    '    type: azure_logs_ingestion',
    `    endpoint: ${q(o.endpoint)}`,
    `    dcrImmutableId: ${o.dcrImmutableId}`,
    '    auth:',
    '      type: client_secret',
    `      tenantId: ${q(o.tenantId)}`,
    `      clientId: ${BENCH_CLIENT_ID}`,
    `      clientSecret: ${q(o.clientSecret)}`,
    `      authorityHost: ${q(o.authorityHost)}`,
    '',
  ].join('\n');
}

/** Samples a process from /proc every `intervalMs`, keeping the last sample (VmHWM is the peak so far). */
export class ProcSampler {
  private last: ProcSample | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, intervalMs: number) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Samples now; returns the latest sample (the previous one once the process is gone). */
  sample(): ProcSample | undefined {
    this.last = sampleProc(this.pid) ?? this.last;
    return this.last;
  }

  stop(): ProcSample | undefined {
    clearInterval(this.timer);
    return this.last;
  }
}

export function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export function mib(bytes: number | undefined): number {
  return round((bytes ?? NaN) / 1024 / 1024);
}

export function machine(): string {
  return `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
}

export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** Writes bench-results/<name>.json. */
export function writeResult(name: string, result: unknown): void {
  const outDir = join(REPO, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

/**
 * Replaces what stands between `<!-- bench:<name>:begin -->` and `<!-- bench:<name>:end -->` in
 * docs/benchmarks.md with the table (markers kept), and prints the table.
 */
export function replaceDocTable(name: string, rows: readonly string[]): void {
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  const table = [begin, ...rows, end].join('\n');
  const docs = join(REPO, 'docs', 'benchmarks.md');
  if (existsSync(docs)) {
    const text = readFileSync(docs, 'utf8');
    const a = text.indexOf(begin);
    const b = text.indexOf(end);
    if (a >= 0 && b > a) writeFileSync(docs, `${text.slice(0, a)}${table}${text.slice(b + end.length)}`);
  }
  process.stdout.write(`${table}\n`);
}

/** Runs a benchmark's main function, printing its error and setting a failing exit code. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
    process.exitCode = 1;
  });
}
