import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createSelfSignedCert } from '@oma/core/testing';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../main.js';
import { loadPlatform } from '../platform.js';
import { defaultOnboardConfig, onboard, parseOnboardArgs, renderOnboardConfig, type OnboardOptions, type OnboardSystem } from './onboard.js';
import { validateConfig } from './validate.js';

const WORKSPACE_ID = '0b5c3a2e-6f4d-4c1b-9a8e-7d6f5e4c3b2a';
const SHARED_KEY = Buffer.alloc(64, 7).toString('base64');
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '11111111-2222-3333-4444-555555555555';
const DCR = 'dcr-0123456789abcdef0123456789abcdef';

function sink(): { stream: NodeJS.WritableStream; text: () => string } {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  return { stream: s, text: () => text };
}

/** A system where this process is root, `oma` is a user with `owner`'s ids, and systemd runs when `systemd` says so. */
function fakeSystem(owner: { uid: number; gid: number }, systemd: boolean, restart: () => void = () => undefined): OnboardSystem & { restarts: number } {
  const sys = {
    restarts: 0,
    systemdRunning: () => systemd,
    restartService: () => {
      sys.restarts++;
      restart();
    },
    lookupUser: (name: string) => (name === 'oma' ? owner : undefined),
    uid: () => 0,
  };
  return sys;
}

describe('oma onboard arguments', () => {
  it('reads the legacy workspace id and key (like omsadmin.sh -w -s -p)', () => {
    const o = parseOnboardArgs(['-w', WORKSPACE_ID, '-s', SHARED_KEY, '-p', 'http://proxy:3128', '--cloud', 'usgov']);
    expect(o).toMatchObject({
      destination: { kind: 'data_collector', workspaceId: WORKSPACE_ID, sharedKey: SHARED_KEY },
      proxy: 'http://proxy:3128',
      cloud: 'usgov',
      configFile: '/etc/opt/oma/oma.yaml',
      dataDir: '/var/opt/oma',
      force: false,
      restart: true,
      owner: 'oma',
    });
  });

  it('reads a data collection rule with each kind of credential and stream overrides', () => {
    const base = ['--dce', 'https://my-dce.eastus-1.ingest.monitor.azure.com', '--dcr-id', DCR];
    expect(parseOnboardArgs([...base, '--tenant-id', TENANT, '--client-id', CLIENT, '--client-secret', 's3cret', '--stream', 'Syslog=Microsoft-Syslog']).destination).toEqual({
      kind: 'logs_ingestion',
      endpoint: 'https://my-dce.eastus-1.ingest.monitor.azure.com',
      dcrImmutableId: DCR,
      streams: { Syslog: 'Microsoft-Syslog' },
      auth: { type: 'client_secret', tenantId: TENANT, clientId: CLIENT, clientSecret: 's3cret' },
    });
    expect(parseOnboardArgs([...base, '--tenant-id', TENANT, '--client-id', CLIENT, '--certificate', '/etc/oma.pem']).destination).toMatchObject({
      auth: { type: 'client_certificate', certificateFile: '/etc/oma.pem' },
    });
    expect(parseOnboardArgs([...base, '--managed-identity', '--client-id', CLIENT]).destination).toMatchObject({ auth: { type: 'managed_identity', clientId: CLIENT } });
    expect(parseOnboardArgs([...base, '--arc']).destination).toMatchObject({ auth: { type: 'azure_arc_managed_identity' } });
  });

  it('reads a secret given as - from standard input', () => {
    const o = parseOnboardArgs(['--workspace-id', WORKSPACE_ID, '--shared-key', '-'], () => `${SHARED_KEY}\n`);
    expect(o.destination).toMatchObject({ sharedKey: SHARED_KEY });
  });

  it.each([
    [[], /give one of --workspace-id/],
    [['--local', '--workspace-id', WORKSPACE_ID, '--shared-key', SHARED_KEY], /give one of/],
    [['--workspace-id', WORKSPACE_ID], /--shared-key is required/],
    [['--dce', 'https://x.ingest.monitor.azure.com', '--dcr-id', DCR], /give one credential/],
    [['--dce', 'https://x.ingest.monitor.azure.com', '--dcr-id', DCR, '--arc', '--managed-identity'], /give one credential/],
    [['--dce', 'https://x.ingest.monitor.azure.com', '--dcr-id', DCR, '--arc', '--stream', 'Syslog'], /--stream takes TABLE=STREAM/],
    [['--local', '--cloud', 'mars'], /--cloud takes public, usgov or china/],
    [['--local', '--arc'], /--arc goes with --dce/],
    [['--workspace-id', WORKSPACE_ID, '--shared-key', SHARED_KEY, '--client-secret', 'x', '--dcr-id', DCR], /--dcr-id goes with --dce; --client-secret goes with --dce/],
    [['--dce', 'https://x.ingest.monitor.azure.com', '--dcr-id', DCR, '--arc', '--endpoint', 'https://x'], /--endpoint goes with --workspace-id/],
    [['--local', '--proxy', 'http://proxy:3128'], /--proxy does not go with --local/],
    [['--workspace-id', WORKSPACE_ID, '--shared-key', SHARED_KEY, '--proxy', 'socks5://proxy:1080'], /--proxy: .*unsupported scheme/],
    [['--workspace-id', WORKSPACE_ID, '--shared-key', SHARED_KEY, '--proxy-user', 'u'], /--proxy-user and --proxy-password go with --proxy/],
    [['--workspace-id', WORKSPACE_ID, '--shared-key', SHARED_KEY, '--proxy', 'http://p:3128', '--proxy-password', 'x'], /--proxy-password goes with --proxy-user/],
    [['--workspace-id', WORKSPACE_ID, '--shared-key', SHARED_KEY, '--proxy', 'http://a:b@p:3128', '--proxy-user', 'u'], /in --proxy or with --proxy-user, not both/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseOnboardArgs(argv)).toThrow(message);
  });
});

describe('oma onboard --proxy-user --proxy-password', () => {
  it('puts the credential into the proxy URL, percent-encoded, so that any character survives', () => {
    const o = parseOnboardArgs(['-w', WORKSPACE_ID, '-s', SHARED_KEY, '--proxy', 'proxy.corp:3128', '--proxy-user', 'CORP\\svc oma', '--proxy-password', 'p@ss:w/rd#1%']);
    expect(o.proxy).toBe('http://CORP%5Csvc%20oma:p%40ss%3Aw%2Frd%231%25@proxy.corp:3128');
    const rendered = renderOnboardConfig(o, 'S');
    expect(rendered.text).toContain('proxy: { url: "http://proxy.corp:3128", username: "CORP\\\\svc oma", password: { file: ');
    expect(rendered.secrets.get('proxy-password')).toBe('p@ss:w/rd#1%');
    expect(parseOnboardArgs(['-w', WORKSPACE_ID, '-s', SHARED_KEY, '--proxy', 'https://[fd00::1]:8443', '--proxy-user', 'u']).proxy).toBe('https://u@[fd00::1]:8443');
  });
});

describe('oma onboard', () => {
  let dir: string;
  let configFile: string;
  const me = userInfo();
  // As root, the secret files can be given to any uid; otherwise only to ourselves.
  const owner = process.getuid?.() === 0 ? { uid: 4242, gid: 4243 } : { uid: me.uid, gid: me.gid };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oma-onboard-'));
    configFile = join(dir, 'oma.yaml');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const opts = (o: Partial<OnboardOptions> & Pick<OnboardOptions, 'destination'>): OnboardOptions => ({
    configFile,
    dataDir: join(dir, 'data'),
    cloud: 'public',
    force: false,
    restart: true,
    owner: 'oma',
    ...o,
  });

  it('writes a legacy workspace config whose key is in a 0600 file of the agent user, and that `oma validate` accepts', async () => {
    const out = sink();
    const err = sink();
    const sys = fakeSystem(owner, false);
    const code = await onboard(opts({ destination: { kind: 'data_collector', workspaceId: WORKSPACE_ID, sharedKey: SHARED_KEY }, cloud: 'china' }), loadPlatform, out.stream, err.stream, sys);
    expect(err.text()).toBe('');
    expect(code).toBe(0);
    const text = readFileSync(configFile, 'utf8');
    expect(text).not.toContain(SHARED_KEY);
    expect(text).toContain(`sharedKey: { file: ${JSON.stringify(join(dir, 'secrets', 'shared-key'))} }`);
    expect(text).toMatch(/type: azure_data_collector\n {4}workspaceId: "0b5c3a2e-[^\n]+\n {4}sharedKey: [^\n]+\n {4}cloud: china\n/);
    const key = join(dir, 'secrets', 'shared-key');
    expect(readFileSync(key, 'utf8')).toBe(`${SHARED_KEY}\n`);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(statSync(key).uid).toBe(owner.uid);
    expect(statSync(configFile).mode & 0o777).toBe(0o640);
    expect(statSync(configFile).gid).toBe(owner.gid);
    expect(out.text()).toContain('written (secrets in');
    const check = sink();
    expect(await validateConfig(configFile, await loadPlatform(), check.stream, check.stream, { offline: true })).toBe(0);
  });

  it('writes a data collection rule destination with a client secret and a proxy whose password is a secret file', async () => {
    const sys = fakeSystem(owner, false);
    const destination = {
      kind: 'logs_ingestion',
      endpoint: 'https://my-dce.eastus-1.ingest.monitor.azure.com',
      dcrImmutableId: DCR,
      streams: { Syslog: 'Microsoft-Syslog' },
      auth: { type: 'client_secret', tenantId: TENANT, clientId: CLIENT, clientSecret: 'app-s3cret' },
    } as const;
    const code = await onboard(opts({ destination, proxy: 'https://user:p%40ss@proxy.corp.example:8443', cloud: 'usgov' }), loadPlatform, sink().stream, sink().stream, sys);
    expect(code).toBe(0);
    const text = readFileSync(configFile, 'utf8');
    expect(text).not.toContain('app-s3cret');
    expect(text).not.toContain('p%40ss');
    expect(text).toContain(`proxy: { url: "https://proxy.corp.example:8443", username: "user", password: { file: ${JSON.stringify(join(dir, 'secrets', 'proxy-password'))} } }`);
    expect(text).toContain('      cloud: usgov\n');
    expect(text).toContain('    streams:\n      Syslog: "Microsoft-Syslog"\n');
    expect(readFileSync(join(dir, 'secrets', 'client-secret'), 'utf8')).toBe('app-s3cret\n');
    expect(readFileSync(join(dir, 'secrets', 'proxy-password'), 'utf8')).toBe('p@ss\n');
    for (const f of ['client-secret', 'proxy-password']) expect(statSync(join(dir, 'secrets', f)).mode & 0o777).toBe(0o600);
    const check = sink();
    expect(await validateConfig(configFile, await loadPlatform(), check.stream, check.stream, { offline: true })).toBe(0);
    expect(check.text()).toMatch(/valid \(1 sources, 1 destinations\)/);
  });

  it('gives a rewritten secret file mode 0600 again, whatever mode the old one had', async () => {
    const legacy = { kind: 'data_collector', workspaceId: WORKSPACE_ID, sharedKey: SHARED_KEY } as const;
    expect(await onboard(opts({ destination: legacy }), loadPlatform, sink().stream, sink().stream, fakeSystem(owner, false))).toBe(0);
    const key = join(dir, 'secrets', 'shared-key');
    chmodSync(key, 0o644);
    expect(await onboard(opts({ destination: legacy, force: true }), loadPlatform, sink().stream, sink().stream, fakeSystem(owner, false))).toBe(0);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(existsSync(`${key}.new`)).toBe(false);
  });

  it('refuses to replace an existing config without --force, and replaces it with --force (dropping secrets it no longer uses)', async () => {
    const sys = fakeSystem(owner, false);
    const legacy = { kind: 'data_collector', workspaceId: WORKSPACE_ID, sharedKey: SHARED_KEY } as const;
    expect(await onboard(opts({ destination: legacy }), loadPlatform, sink().stream, sink().stream, sys)).toBe(0);
    const before = readFileSync(configFile, 'utf8');
    const err = sink();
    expect(await onboard(opts({ destination: { kind: 'local' } }), loadPlatform, sink().stream, err.stream, sys)).toBe(1);
    expect(err.text()).toMatch(/exists; --force replaces it/);
    expect(readFileSync(configFile, 'utf8')).toBe(before);
    expect(await onboard(opts({ destination: { kind: 'local' }, force: true }), loadPlatform, sink().stream, sink().stream, sys)).toBe(0);
    expect(readFileSync(configFile, 'utf8')).toContain('type: local_workspace');
    expect(existsSync(join(dir, 'secrets', 'shared-key'))).toBe(false);
  });

  it('warns when the agent user cannot read the client certificate, and not when it can', async () => {
    const cert = createSelfSignedCert({ commonName: 'oma-onboard', usage: 'client' });
    const pem = join(dir, 'oma.pem');
    writeFileSync(pem, `${cert.certPem}${cert.keyPem}`);
    // Owned by someone other than the agent user, in neither its group nor readable by others.
    const other = { uid: owner.uid + 1, gid: owner.gid + 1 };
    const sys: OnboardSystem = { ...fakeSystem(owner, false), lookupUser: () => other };
    chownSync(pem, owner.uid, owner.gid);
    chmodSync(pem, 0o600);
    const destination = {
      kind: 'logs_ingestion',
      endpoint: 'https://my-dce.eastus-1.ingest.monitor.azure.com',
      dcrImmutableId: DCR,
      streams: {},
      auth: { type: 'client_certificate', tenantId: TENANT, clientId: CLIENT, certificateFile: pem },
    } as const;
    const err = sink();
    expect(await onboard(opts({ destination }), loadPlatform, sink().stream, err.stream, sys)).toBe(0);
    expect(err.text()).toBe(`oma onboard: warning: oma cannot read ${pem}; the agent runs as oma (e.g. chgrp oma ${pem} && chmod 0640 ${pem})\n`);
    expect(readFileSync(configFile, 'utf8')).toContain(`certificateFile: ${JSON.stringify(pem)}`);
    chmodSync(pem, 0o604);
    const quiet = sink();
    expect(await onboard(opts({ destination, force: true }), loadPlatform, sink().stream, quiet.stream, sys)).toBe(0);
    expect(quiet.text()).toBe('');
  });

  it("replaces the package's default config (what --local writes) without --force", async () => {
    writeFileSync(configFile, defaultOnboardConfig(join(dir, 'data')));
    const code = await onboard(opts({ destination: { kind: 'data_collector', workspaceId: WORKSPACE_ID, sharedKey: SHARED_KEY } }), loadPlatform, sink().stream, sink().stream, fakeSystem(owner, false));
    expect(code).toBe(0);
    expect(readFileSync(configFile, 'utf8')).toContain('type: azure_data_collector');
  });

  it('changes nothing when the result would not be valid', async () => {
    const err = sink();
    const code = await onboard(opts({ destination: { kind: 'data_collector', workspaceId: 'not-a-guid', sharedKey: SHARED_KEY } }), loadPlatform, sink().stream, err.stream, fakeSystem(owner, false));
    expect(code).toBe(2);
    expect(err.text()).toMatch(/destinations\.azure\.workspaceId: expected the workspace id/);
    expect(err.text()).toContain('is unchanged');
    expect(existsSync(configFile)).toBe(false);
    expect(existsSync(join(dir, 'secrets'))).toBe(false);
  });

  it('restarts oma.service when systemd runs, unless told not to', async () => {
    const local = { kind: 'local' } as const;
    const running = fakeSystem(owner, true);
    const out = sink();
    expect(await onboard(opts({ destination: local }), loadPlatform, out.stream, sink().stream, running)).toBe(0);
    expect(running.restarts).toBe(1);
    expect(out.text()).toContain('oma.service restarted');
    expect(await onboard(opts({ destination: local, restart: false }), loadPlatform, sink().stream, sink().stream, running)).toBe(0);
    expect(running.restarts).toBe(1);
    const noSystemd = fakeSystem(owner, false);
    const told = sink();
    expect(await onboard(opts({ destination: local }), loadPlatform, told.stream, sink().stream, noSystemd)).toBe(0);
    expect(noSystemd.restarts).toBe(0);
    expect(told.text()).toContain('systemd is not running: restart the agent to use the new config');
    const failing = fakeSystem(owner, true, () => {
      throw Object.assign(new Error('exit 5'), { stderr: Buffer.from('Unit oma.service not found.') });
    });
    const err = sink();
    expect(await onboard(opts({ destination: local }), loadPlatform, sink().stream, err.stream, failing)).toBe(1);
    expect(err.text()).toContain('restarting oma.service failed: Unit oma.service not found.');
  });
});

describe('oma onboard on the command line', () => {
  /** Runs `main(argv)` with stdout and stderr captured. */
  async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    });
    try {
      return { code: await main(argv), stdout, stderr };
    } finally {
      vi.restoreAllMocks();
    }
  }

  it('prints its usage for --help and `oma help onboard`', async () => {
    for (const argv of [['onboard', '--help'], ['help', 'onboard']]) {
      const r = await run(...argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage:\n {2}oma onboard --workspace-id ID --shared-key KEY[\s\S]*--no-restart/);
    }
    expect((await run('--help')).stdout).toMatch(/^ {2}oma onboard \(--workspace-id ID --shared-key KEY \| --dce URL/m);
  });

  it('exits 2 with its usage for a bad combination, and writes the config otherwise', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oma-onboard-cli-'));
    try {
      const bad = await run('onboard', '--config', join(dir, 'oma.yaml'));
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/^oma onboard: give one of[\s\S]*Usage:/);
      const ok = await run('onboard', '--local', '--config', join(dir, 'oma.yaml'), '--data-dir', join(dir, 'data'), '--no-restart');
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      expect(readFileSync(join(dir, 'oma.yaml'), 'utf8')).toBe(defaultOnboardConfig(join(dir, 'data')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
