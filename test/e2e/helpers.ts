import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OMA_BIN = join(REPO, 'packages', 'cli', 'bin', 'oma.js');

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A running `oma` process with its output collected. */
export class OmaProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  }

  /** Resolves with the first match of `re` in stdout, failing after `timeoutMs`. */
  async waitForOutput(re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.stdout.match(re);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`oma exited (${this.child.exitCode}) before printing ${re}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

export function startOma(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO): OmaProcess {
  const child = spawn(process.execPath, [OMA_BIN, ...args], {
    cwd,
    env: { ...process.env, ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new OmaProcess(child);
}

/** Runs `oma ARGS` to completion. */
export async function runOma(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startOma(args, env, cwd);
  const { code } = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr };
}

/**
 * A scenario's temporary directory and the processes it starts. `afterAll` stops them in reverse order
 * (each with the signal it was tracked with: agents SIGKILL, so no clean shutdown can hide a bug;
 * workspaces SIGTERM) and removes the directory.
 */
export class Scenario {
  readonly dir: string;
  private readonly tracked: Array<{ proc: OmaProcess; signal: NodeJS.Signals }> = [];
  private readonly removeDir: () => void;

  constructor(prefix: string) {
    const d = tempDir(prefix);
    this.dir = d.path;
    this.removeDir = d.remove;
  }

  /** A path inside the scenario's directory. */
  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /** Keeps `proc` to be stopped with `signal` when the scenario ends. */
  track<T extends OmaProcess>(proc: T, signal: NodeJS.Signals = 'SIGKILL'): T {
    this.tracked.push({ proc, signal });
    return proc;
  }

  /** Creates `logs/` in the scenario's directory with an empty log file in it, for a custom_log source to read. */
  logFile(name = 'app.log'): { dir: string; file: string } {
    const dir = this.path('logs');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, name);
    writeFileSync(file, '');
    return { dir, file };
  }

  /** Starts `oma ARGS` and tracks it (SIGKILL at the end). */
  startOma(args: string[], env: NodeJS.ProcessEnv = {}): OmaProcess {
    return this.track(startOma(args, env));
  }

  async end(): Promise<void> {
    for (const { proc, signal } of this.tracked.reverse()) await proc.kill(signal);
    this.removeDir();
  }
}

/** A scenario whose processes and directory go away after the suite (registers `afterAll`). */
export function useScenario(prefix: string): Scenario {
  const s = new Scenario(prefix);
  afterAll(() => s.end());
  return s;
}

/**
 * YAML of an agent config for tests: no status line, no metrics endpoint, the given source and
 * destination entries (each already indented by two spaces).
 */
export function agentYaml(opts: { dataDir: string; logLevel?: string; sources: readonly string[]; destinations: readonly string[] }): string {
  return [
    `dataDir: ${opts.dataDir}`,
    'statusIntervalMs: 0',
    'observability: { enabled: false }',
    ...(opts.logLevel ? [`log: { level: ${opts.logLevel} }`] : []),
    'sources:',
    ...opts.sources,
    'destinations:',
    ...opts.destinations,
    '',
  ].join('\n');
}

/** A `custom_log` source entry reading `pattern` from the beginning into `table` (JSON-quoted: Windows paths keep their backslashes). */
export function customLogYaml(id: string, table: string, pattern: string, extra: readonly string[] = []): string {
  return [`  ${id}:`, '    type: custom_log', `    table: ${table}`, `    filePatterns: [${JSON.stringify(pattern)}]`, '    startAt: beginning', ...extra.map((l) => `    ${l}`)].join('\n');
}
