/**
 * Builds OMA's Debian package: `node dist/deb.js [--out DIR] [--compression fast|best]` (root script
 * `npm run package:deb`, which builds the workspace first). Writes `DIR/oma_<version>_amd64.deb`
 * (default DIR: dist-pkg/ at the repository root) and prints its path. `--list [--repo DIR] [--root
 * NAME ...]` prints the packages that would go in instead, as JSON.
 *
 * Layout: /opt/oma/bin/oma (a shell wrapper), /opt/oma/lib/node (the bundled Node.js runtime),
 * /opt/oma/lib/node_modules (the built packages with their production dependencies and native
 * builds), /usr/bin/oma, the systemd units oma.service and oma-gateway.service, the config in
 * /etc/opt/oma (conffiles); maintainer scripts create the oma user and /var/opt/oma.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { productionClosure, readManifest, workspaceDirs, type ClosureEntry } from './closure.js';
import { copyEntry } from './copy.js';
import { extractRuntime, fetchRuntime, type RuntimeSpec } from './runtime.js';

const TOOL = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(TOOL, '..', '..');
const FILES = join(TOOL, 'files');

/** dpkg-deb compression: `fast` for tests and local builds, `best` (xz) for releases. */
const COMPRESSION = { fast: ['-Zgzip', '-z1'], best: ['-Zxz', '-z6'] } as const;

export interface DebOptions {
  readonly out: string;
  readonly compression: keyof typeof COMPRESSION;
  /** Where the runtime tarball is kept between builds. */
  readonly cacheDir: string;
}

function run(cmd: string, args: readonly string[], opts: { cwd?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });
}

/** Directories 0755, files 0644, or 0755 when their owner may execute them; symlinks as they are. */
function normalizeModes(dir: string): void {
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isSymbolicLink()) continue;
    if (d.isDirectory()) {
      chmodSync(p, 0o755);
      normalizeModes(p);
    } else {
      chmodSync(p, lstatSync(p).mode & 0o100 ? 0o755 : 0o644);
    }
  }
}

function duKiB(dir: string): number {
  return Number(run('du', ['-sk', '--apparent-size', dir]).split('\t')[0]);
}

function controlFile(version: string, installedKiB: number): string {
  return [
    'Package: oma',
    `Version: ${version}`,
    'Architecture: amd64',
    'Maintainer: OMA project <oma@invalid>',
    `Installed-Size: ${installedKiB}`,
    'Depends: libc6 (>= 2.28), libstdc++6, passwd',
    'Section: admin',
    'Priority: optional',
    'Description: OMA, the Open Monitoring Agent, for Azure Monitor Log Analytics',
    ' The agent (oma.service, enabled at install) collects heartbeats, text logs and, on Linux, syslog,',
    ' the journal and performance counters, and sends them to Azure Monitor Log Analytics. It runs as',
    ' the oma user on a Node.js runtime bundled in /opt/oma. `oma onboard` writes its config for a',
    ' workspace. The gateway (oma-gateway.service, not enabled) relays agents to Azure Monitor.',
    '',
  ].join('\n');
}

/**
 * What goes into lib/: the command line and every native addon of the repository (whatever has been
 * built of them), with their production dependencies; nothing for Windows only.
 */
export function packageClosure(repo: string, roots?: readonly string[]): ClosureEntry[] {
  const natives = workspaceDirs(repo)
    .filter((d) => basename(dirname(d)) === 'native')
    .map((d) => readManifest(d).name);
  return productionClosure({ repo, roots: roots ?? ['@oma/cli', ...natives], excludeTags: ['os:windows'] });
}

export function buildDeb(opts: DebOptions): string {
  if (process.platform !== 'linux') throw new Error(`a .deb is built on Linux; this is ${process.platform}`);
  const cli = join(REPO, 'packages', 'cli');
  if (!existsSync(join(cli, 'dist', 'main.js'))) throw new Error('the workspace is not built: run `npm run build` first');
  const manifest = readManifest(cli);
  const version = manifest.version ?? '0.0.0';
  const runtime = (JSON.parse(readFileSync(join(TOOL, 'package.json'), 'utf8')) as { omaPackage: { nodeRuntime: RuntimeSpec } }).omaPackage.nodeRuntime;

  mkdirSync(opts.out, { recursive: true });
  // Staged outside the repository: the smoke run below must not find a missing module in the repository's node_modules.
  const root = mkdtempSync(join(tmpdir(), 'oma-deb-'));
  try {
    const opt = join(root, 'opt', 'oma');
    const lib = join(opt, 'lib');

    for (const entry of packageClosure(REPO)) copyEntry(entry, lib);

    const node = extractRuntime(fetchRuntime(runtime, opts.cacheDir), join(lib, 'node'));
    // Native dependencies (better-sqlite3) were compiled for the Node.js that ran `npm ci`: its ABI must be the runtime's.
    const abi = run(node, ['-p', 'process.versions.modules']).trim();
    if (abi !== process.versions.modules) {
      throw new Error(
        `the bundled Node.js ${runtime.version} has module ABI ${abi}, but the dependencies were built by Node.js ${process.version} (ABI ${process.versions.modules}): build with Node.js ${runtime.version.split('.')[0]}`,
      );
    }

    mkdirSync(join(opt, 'bin'), { recursive: true });
    cpSync(join(FILES, 'oma'), join(opt, 'bin', 'oma'));
    const doc = join(opt, 'share', 'doc', 'oma');
    mkdirSync(doc, { recursive: true });
    for (const f of ['install-linux.md', 'configuration.md', 'azure.md', 'errors.md']) {
      if (existsSync(join(REPO, 'docs', f))) cpSync(join(REPO, 'docs', f), join(doc, f));
    }
    const units = join(root, 'usr', 'lib', 'systemd', 'system');
    mkdirSync(units, { recursive: true });
    for (const f of ['oma.service', 'oma-gateway.service']) cpSync(join(FILES, f), join(units, f));

    // The default config is what `oma onboard --local` writes, run from the staged tree (a smoke test of it).
    const etc = join(root, 'etc', 'opt', 'oma');
    mkdirSync(etc, { recursive: true });
    const omaJs = join(lib, 'node_modules', '@oma', 'cli', 'bin', 'oma.js');
    const said = run(node, [omaJs, 'version']).trim();
    if (said !== version) throw new Error(`the staged oma says version "${said}", expected ${version}`);
    run(node, [omaJs, 'onboard', '--local', '--config', join(etc, 'oma.yaml'), '--no-restart']);
    cpSync(join(FILES, 'gateway.yaml'), join(etc, 'gateway.yaml'));
    normalizeModes(root);

    mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
    symlinkSync('/opt/oma/bin/oma', join(root, 'usr', 'bin', 'oma'));

    const debian = join(root, 'DEBIAN');
    mkdirSync(debian);
    const installed = duKiB(root);
    writeFileSync(join(debian, 'control'), controlFile(version, installed));
    writeFileSync(join(debian, 'conffiles'), '/etc/opt/oma/oma.yaml\n/etc/opt/oma/gateway.yaml\n');
    for (const f of ['postinst', 'prerm', 'postrm']) {
      cpSync(join(FILES, 'debian', f), join(debian, f));
      chmodSync(join(debian, f), 0o755);
    }
    chmodSync(join(debian, 'control'), 0o644);
    chmodSync(join(debian, 'conffiles'), 0o644);

    const deb = join(opts.out, `oma_${version}_amd64.deb`);
    run('dpkg-deb', ['--root-owner-group', ...COMPRESSION[opts.compression], '--build', root, deb]);
    return deb;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: join(REPO, 'dist-pkg') },
      compression: { type: 'string', default: 'best' },
      'cache-dir': { type: 'string', default: join(REPO, 'node_modules', '.cache', 'oma-package') },
      list: { type: 'boolean', default: false },
      repo: { type: 'string', default: REPO },
      root: { type: 'string', multiple: true },
    },
  });
  if (values.list) {
    // The packages that would go into lib/, as JSON: [{ name, source, target, workspace }].
    process.stdout.write(`${JSON.stringify(packageClosure(resolve(values.repo), values.root), null, 1)}\n`);
    return 0;
  }
  if (values.compression !== 'fast' && values.compression !== 'best') {
    process.stderr.write('--compression takes fast (gzip -1) or best (xz)\n');
    return 2;
  }
  const deb = buildDeb({ out: resolve(values.out), compression: values.compression, cacheDir: resolve(values['cache-dir']) });
  process.stdout.write(`${deb}\n`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`package:deb: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
