import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { countRows } from './db.js';
import { OmaProcess, REPO, tempDir } from './helpers.js';

/**
 * The Linux package end to end on this machine: build the .deb, `dpkg -i` it, run the agent the way
 * its systemd unit does (the unit's ExecStart, as the unit's user) against a local workspace served
 * by the installed command, then `dpkg -r` and `dpkg -P`. It installs into the real system, so it
 * needs root and dpkg, and stays away from a machine where a package named oma is already installed.
 */
const DEB_TOOL = join(REPO, 'tools', 'package', 'dist', 'deb.js');
const UNIT = '/usr/lib/systemd/system/oma.service';
const GATEWAY_UNIT = '/usr/lib/systemd/system/oma-gateway.service';
const RUNTIME = '/opt/oma/lib/node/bin/node';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root: dpkg -i installs into this system';
  for (const cmd of ['dpkg', 'dpkg-deb', 'runuser', 'useradd']) if (!has(cmd)) return `needs ${cmd}`;
  const status = spawnSync('dpkg-query', ['-W', '-f=${Status}', 'oma'], { encoding: 'utf8' });
  if (status.status === 0 && status.stdout.trim() !== '' && !status.stdout.includes('not-installed')) {
    return `a package named oma is installed here already (${status.stdout.trim()}); remove it (dpkg -P oma) to run this test`;
  }
  return undefined;
}

const reason = skipReason();

function getent(db: 'passwd' | 'group', name: string): string[] | undefined {
  const r = spawnSync('getent', [db, name], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split(':') : undefined;
}

/** True when process `pid` runs the package's Node.js runtime (false once it has exited, even before it is reaped). */
function runsRuntime(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`).startsWith(RUNTIME);
  } catch {
    return false; // gone, a zombie, or a kernel thread
  }
}

/** The pids of processes running the package's Node.js runtime. */
function runtimeProcesses(): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter(runsRuntime);
}

/** `Key=value` settings of the [Service] section of a unit file. */
function unitSettings(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

const mode = (path: string): number => statSync(path).mode & 0o7777;

describe.skipIf(reason !== undefined)(`the Linux package (.deb)${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const dir = tempDir('oma-e2e-deb-');
  const processes: OmaProcess[] = [];
  let deb: string;
  let omaUid: number;
  let agent: OmaProcess | undefined;
  let gateway: OmaProcess | undefined;
  let agentPid = 0;

  beforeAll(() => {
    if (!existsSync(DEB_TOOL)) throw new Error(`${DEB_TOOL} is not built: run the build first`);
    deb = execFileSync(process.execPath, [DEB_TOOL, '--out', dir.path, '--compression', 'fast'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    execFileSync('dpkg', ['-i', deb], { stdio: ['ignore', 'pipe', 'pipe'] });
  }, 150_000);

  afterAll(async () => {
    for (const p of processes.reverse()) await p.kill('SIGTERM');
    if (spawnSync('dpkg-query', ['-W', '-f=${Status}', 'oma'], { encoding: 'utf8' }).stdout.includes('installed')) {
      spawnSync('dpkg', ['-P', 'oma'], { stdio: 'ignore' });
    }
    dir.remove();
  }, 60_000);

  it('is named after the version and installs the runtime, the command, the units and the config', () => {
    const version = (JSON.parse(readFileSync(join(REPO, 'packages', 'cli', 'package.json'), 'utf8')) as { version: string }).version;
    expect(deb).toBe(join(dir.path, `oma_${version}_amd64.deb`));
    const info = execFileSync('dpkg-deb', ['-f', deb, 'Package', 'Version', 'Architecture'], { encoding: 'utf8' });
    expect(info).toBe(`Package: oma\nVersion: ${version}\nArchitecture: amd64\n`);

    expect(mode('/opt/oma/bin/oma')).toBe(0o755);
    expect(readlinkSync('/usr/bin/oma')).toBe('/opt/oma/bin/oma');
    // The bundled runtime is of the supported line, whatever node this machine has.
    expect(execFileSync(RUNTIME, ['--version'], { encoding: 'utf8' })).toMatch(/^v20\./);
    expect(execFileSync('/opt/oma/bin/oma', ['version'], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }).trim()).toBe(version);
    // Every native addon that is built in the repository is in the package.
    const nativeDir = join(REPO, 'native');
    for (const name of existsSync(nativeDir) ? readdirSync(nativeDir) : []) {
      const release = join(nativeDir, name, 'build', 'Release');
      if (!existsSync(release)) continue;
      const pkg = (JSON.parse(readFileSync(join(nativeDir, name, 'package.json'), 'utf8')) as { name: string }).name;
      for (const f of readdirSync(release).filter((f) => f.endsWith('.node'))) {
        expect(existsSync(join('/opt/oma/lib/node_modules', pkg, 'build', 'Release', f)), `${pkg} ${f}`).toBe(true);
      }
    }
    // Only what runs: no TypeScript declarations, no Windows platform package.
    expect(existsSync('/opt/oma/lib/node_modules/@oma/cli/dist/main.d.ts')).toBe(false);
    expect(existsSync('/opt/oma/lib/node_modules/@oma/windows')).toBe(false);

    const agentUnit = unitSettings(UNIT);
    expect(agentUnit.get('ExecStart')).toBe('/opt/oma/bin/oma run --config /etc/opt/oma/oma.yaml');
    expect(agentUnit.get('User')).toBe('oma');
    expect(agentUnit.get('Restart')).toBe('on-failure');
    expect(agentUnit.get('ReadWritePaths')).toBe('/var/opt/oma');
    expect(agentUnit.get('CapabilityBoundingSet')).toBe('');
    for (const [k, v] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes']]) expect(agentUnit.get(k!), k).toBe(v);
    const gatewayUnit = unitSettings(GATEWAY_UNIT);
    expect(gatewayUnit.get('ExecStart')).toBe('/opt/oma/bin/oma gateway --config /etc/opt/oma/gateway.yaml');
    expect(gatewayUnit.get('User')).toBe('oma');
    if (has('systemctl')) {
      // Enabled at install (even with no systemd running); the gateway is not.
      expect(lstatSync('/etc/systemd/system/multi-user.target.wants/oma.service').isSymbolicLink()).toBe(true);
      expect(existsSync('/etc/systemd/system/multi-user.target.wants/oma-gateway.service')).toBe(false);
    }
    if (has('systemd-analyze')) {
      const verify = spawnSync('systemd-analyze', ['verify', UNIT, GATEWAY_UNIT], { encoding: 'utf8' });
      expect(verify.stderr).toBe('');
      expect(verify.status).toBe(0);
    }
    expect(execFileSync('dpkg-query', ['-W', '-f=${Conffiles}', 'oma'], { encoding: 'utf8' })).toMatch(/\/etc\/opt\/oma\/oma\.yaml [0-9a-f]{32}\n.*\/etc\/opt\/oma\/gateway\.yaml [0-9a-f]{32}/s);
  });

  it('creates the oma system user in the adm and systemd-journal groups, and its private state directory', () => {
    const user = getent('passwd', 'oma');
    expect(user).toBeDefined();
    omaUid = Number(user![2]);
    expect(omaUid).toBeLessThan(1000);
    expect(user![5]).toBe('/var/opt/oma');
    expect(user![6]).toBe('/usr/sbin/nologin');
    const groups = execFileSync('id', ['-nG', 'oma'], { encoding: 'utf8' }).trim().split(' ');
    for (const g of ['adm', 'systemd-journal']) if (getent('group', g)) expect(groups).toContain(g);

    const state = statSync('/var/opt/oma');
    expect([state.uid, state.mode & 0o7777]).toEqual([omaUid, 0o700]);
    const omaGid = Number(getent('group', 'oma')![2]);
    const conf = statSync('/etc/opt/oma');
    expect([conf.uid, conf.gid, conf.mode & 0o7777]).toEqual([0, omaGid, 0o750]);
    const yaml = statSync('/etc/opt/oma/oma.yaml');
    expect([yaml.uid, yaml.gid, yaml.mode & 0o7777]).toEqual([0, omaGid, 0o640]);
    // The default config: the embedded local workspace, state in /var/opt/oma, logs to the journal only.
    const text = readFileSync('/etc/opt/oma/oma.yaml', 'utf8');
    expect(text).toContain('dataDir: "/var/opt/oma"');
    expect(text).toContain('log: { file: false }');
    expect(text).toContain('type: local_workspace');
  });

  it("runs the unit's ExecStart as the oma user, onboarded to a workspace, and delivers Heartbeat", async () => {
    // The workspace, served by the installed command as well.
    const wsDir = join(dir.path, 'workspace');
    const clientId = '11111111-2222-3333-4444-555555555555';
    const ws = new OmaProcess(
      spawn('/opt/oma/bin/oma', ['workspace', 'serve', '--data-dir', wsDir, '--port', '0', '--client-id', clientId, '--client-secret', 'deb-secret'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NO_COLOR: '1' },
      }),
    );
    processes.push(ws);
    const url = (await ws.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const tenant = (await ws.waitForOutput(/tenant: +(\S+)/))[1]!;
    const dcr = (await ws.waitForOutput(/DCR: +(dcr-[0-9a-f]+)/))[1]!;

    const onboard = spawnSync(
      '/opt/oma/bin/oma',
      ['onboard', '--dce', url, '--dcr-id', dcr, '--tenant-id', tenant, '--client-id', clientId, '--client-secret', '-', '--authority-host', url, '--no-restart'],
      { input: 'deb-secret\n', encoding: 'utf8' },
    );
    expect(onboard.stderr).toBe('');
    expect(onboard.status).toBe(0);
    const secret = statSync('/etc/opt/oma/secrets/client-secret');
    expect([secret.uid, secret.mode & 0o7777]).toEqual([omaUid, 0o600]);
    const config = readFileSync('/etc/opt/oma/oma.yaml', 'utf8');
    expect(config).not.toContain('deb-secret');
    // Other tests run beside this one: the metrics endpoint takes any free port.
    writeFileSync('/etc/opt/oma/oma.yaml', config.replace('observability: { port: 9469 }', 'observability: { port: 0 }'));

    const unit = unitSettings(UNIT);
    const argv = unit.get('ExecStart')!.split(/\s+/);
    agent = new OmaProcess(
      spawn('runuser', ['-u', unit.get('User')!, '--', ...argv], {
        cwd: unit.get('WorkingDirectory') ?? '/',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
      }),
    );
    processes.push(agent);
    agentPid = Number((await agent.waitForOutput(/OMA \S+ running \(pid (\d+)\)/))[1]);
    expect(readlinkSync(`/proc/${agentPid}/exe`)).toBe(RUNTIME);
    expect(readFileSync(`/proc/${agentPid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\t${omaUid}\\t${omaUid}\\t`, 'm'));

    await vi.waitFor(() => expect(countRows(join(wsDir, 'workspace.db'), 'Heartbeat_CL')).toBeGreaterThan(0), { timeout: 30_000, interval: 250 });
    // It wrote its queue into its state directory, as its own user.
    expect(statSync('/var/opt/oma/queues').uid).toBe(omaUid);
  });

  it("runs the gateway unit's ExecStart as the oma user with the shipped gateway.yaml", async () => {
    const shipped = readFileSync('/etc/opt/oma/gateway.yaml', 'utf8');
    expect(shipped).toMatch(/^ {2}port: 8080$/m);
    // Other tests run beside this one: any free port instead of 8080.
    writeFileSync('/etc/opt/oma/gateway.yaml', shipped.replace(/^ {2}port: 8080$/m, '  port: 0'));
    const unit = unitSettings(GATEWAY_UNIT);
    gateway = new OmaProcess(
      spawn('runuser', ['-u', unit.get('User')!, '--', ...unit.get('ExecStart')!.split(/\s+/)], {
        cwd: unit.get('WorkingDirectory') ?? '/',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
      }),
    );
    processes.push(gateway);
    await gateway.waitForOutput(/OMA gateway listening on 127\.0\.0\.1:\d+/);
  });

  it('dpkg -r stops the agent and the gateway and leaves no process, unit or command; the user, config and state stay', async () => {
    expect(agentPid).toBeGreaterThan(0);
    execFileSync('dpkg', ['-r', 'oma'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // prerm stops them (SIGTERM, then SIGKILL after 30 s) before dpkg -r returns.
    expect(runsRuntime(agentPid)).toBe(false);
    expect((await gateway!.exited).code).not.toBeNull();
    expect(runtimeProcesses()).toEqual([]);
    for (const gone of [UNIT, GATEWAY_UNIT, '/opt/oma', '/etc/systemd/system/multi-user.target.wants/oma.service']) {
      expect(existsSync(gone), gone).toBe(false);
    }
    expect(() => lstatSync('/usr/bin/oma')).toThrow();
    expect(getent('passwd', 'oma')).toBeDefined();
    expect(existsSync('/var/opt/oma/queues')).toBe(true);
    expect(existsSync('/etc/opt/oma/oma.yaml')).toBe(true);
  });

  it("dpkg -P removes the user, the state, the config and the secrets, and keeps the admin's own files", () => {
    writeFileSync('/etc/opt/oma/admin.pem', 'not the package\'s\n');
    execFileSync('dpkg', ['-P', 'oma'], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(getent('passwd', 'oma')).toBeUndefined();
    expect(getent('group', 'oma')).toBeUndefined();
    expect(existsSync('/var/opt/oma')).toBe(false);
    expect(readdirSync('/etc/opt/oma')).toEqual(['admin.pem']);
    rmSync('/etc/opt/oma', { recursive: true });
    expect(spawnSync('dpkg-query', ['-W', '-f=${Status}', 'oma'], { encoding: 'utf8' }).stdout).not.toMatch(/ installed/);
  });
});
