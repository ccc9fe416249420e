import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { runSyslog, type CommandResult, type SyslogHost } from './syslog.js';
import { parseFacilities, parseLevel, rsyslogSnippet, syslogNgSnippet, validationMainConfig, type ForwardOptions } from './syslog-snippet.js';

const root = mkdtempSync(join(tmpdir(), 'oma-syslog-cmd-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A main config including `<dir>/conf.d/*.conf`, and the snippet path inside it. */
function layout(daemon: 'rsyslog' | 'syslog-ng'): { dir: string; main: string; file: string } {
  const dir = join(root, `case-${n++}`);
  mkdirSync(join(dir, 'conf.d'), { recursive: true });
  const main = join(dir, 'main.conf');
  writeFileSync(main, daemon === 'rsyslog' ? `$WorkDirectory ${dir}\n$IncludeConfig ${dir}/conf.d/*.conf\n` : `@version: 3.38\nsource s_src { internal(); };\n@include "${dir}/conf.d/*.conf"\n`);
  return { dir, main, file: join(dir, 'conf.d', daemon === 'rsyslog' ? '95-oma.conf' : 'oma.conf') };
}

/** A host whose programs are `available`; `run` answers from `answer` (default: success) and records each call. */
function fakeHost(opts: { systemd: boolean; available: readonly string[]; answer?: (file: string, args: readonly string[]) => CommandResult }): SyslogHost & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    run: (file, args) => {
      calls.push([file, ...args.map((a) => (a.includes('oma-syslog-check-') ? '<temp>' : a))].join(' '));
      return Promise.resolve(opts.answer?.(file, args) ?? { code: 0, stdout: '', stderr: '' });
    },
    which: (name) => Promise.resolve(opts.available.includes(name) ? (name.startsWith('/') ? name : `/usr/sbin/${name}`) : undefined),
    systemdRunning: () => opts.systemd,
    processAlive: () => false,
    kill: () => undefined,
  };
}

async function run(host: SyslogHost, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  err.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await runSyslog(args, host, out, err);
  return { code, stdout, stderr };
}

const TCP: ForwardOptions = { daemon: 'rsyslog', facilities: '*', level: 'info', transport: 'tcp', port: 28330, socket: '/run/oma/syslog.sock', queueDir: '/var/spool/rsyslog', source: 's_src' };

describe('forwarding snippets', () => {
  it('parses facility lists and level names, the DCR spellings included', () => {
    expect(parseFacilities('auth, AuthPriv,local0,auth')).toEqual(['auth', 'authpriv', 'local0']);
    expect(parseFacilities('*')).toBe('*');
    expect(() => parseFacilities('mark')).toThrow(/unknown facility "mark"/);
    expect(parseLevel('Warning')).toBe('warning');
    expect(parseLevel('Error')).toBe('err');
    expect(parseLevel('Emergency')).toBe('emerg');
    expect(() => parseLevel('loud')).toThrow(/unknown level/);
  });

  it('rsyslog over TCP: omfwd, octet-counted, behind a disk-assisted queue that retries forever', () => {
    const text = rsyslogSnippet({ ...TCP, facilities: ['auth', 'local0'], level: 'warning', port: 1514 });
    expect(text.split('\n')[0]).toBe('# Written by `oma syslog configure`');
    expect(text).toContain('auth,local0.warning action(type="omfwd"');
    for (const setting of ['target="127.0.0.1"', 'port="1514"', 'protocol="tcp"', 'TCP_Framing="octet-counted"', 'queue.type="LinkedList"', 'queue.size="25000"',
      'queue.maxFileSize="32m"', 'queue.saveOnShutdown="on"', 'action.resumeRetryCount="-1"', 'action.resumeInterval="5"', 'queue.spoolDirectory="/var/spool/rsyslog"']) {
      expect(text).toContain(setting);
    }
    expect(text).toContain('%TIMESTAMP:::date-rfc3339%');
  });

  it('rsyslog over the unix socket: omuxsock through its legacy directives', () => {
    const text = rsyslogSnippet({ ...TCP, transport: 'unix', socket: '/run/x/agent.sock' });
    expect(text).toContain('$OMUxSockSocket /run/x/agent.sock\n');
    expect(text).toContain('*.info :omuxsock:;OMA_ForwardFormat\n');
  });

  it('syslog-ng: a filter, a syslog() or unix-dgram() destination and a log path from the source', () => {
    const tcp = syslogNgSnippet({ ...TCP, daemon: 'syslog-ng', facilities: ['cron'], level: 'notice', queueDir: '/q' });
    expect(tcp).toContain('filter f_oma { facility(cron) and level(notice..emerg); };');
    expect(tcp).toContain('syslog("127.0.0.1" transport("tcp") port(28330)');
    expect(tcp).toContain('dir("/q")');
    expect(tcp).toContain('log { source(s_src); filter(f_oma); destination(d_oma); };');
    const unix = syslogNgSnippet({ ...TCP, daemon: 'syslog-ng', transport: 'unix', source: 's_all' });
    expect(unix).toContain('filter f_oma { level(info..emerg); };');
    expect(unix).toContain('unix-dgram("/run/oma/syslog.sock" flags(syslog-protocol)');
    expect(unix).toContain('source(s_all)');
  });

  it('validates in the main config with the new snippet in place of the installed one', () => {
    const main = ['$WorkDirectory /var/spool/rsyslog', '$IncludeConfig /etc/rsyslog.d/*.conf', '*.* /var/log/syslog', ''].join('\n');
    const out = validationMainConfig('rsyslog', main, '/etc/rsyslog.d/95-oma.conf', ['50-site.conf', '95-oma.conf', '99-late.conf', 'README', '95-oma.conf.oma-new'], '/run/check/95-oma.conf');
    expect(out).toBe([
      '$WorkDirectory /var/spool/rsyslog',
      '$IncludeConfig /etc/rsyslog.d/50-site.conf',
      '$IncludeConfig /run/check/95-oma.conf',
      '$IncludeConfig /etc/rsyslog.d/99-late.conf',
      '*.* /var/log/syslog',
      '',
    ].join('\n'));
    const rainer = validationMainConfig('rsyslog', 'include(file="/etc/rsyslog.d/*.conf" mode="optional")\n', '/etc/rsyslog.d/95-oma.conf', [], '/t/95-oma.conf');
    expect(rainer).toBe('$IncludeConfig /t/95-oma.conf\n');
    const ng = validationMainConfig('syslog-ng', '@version: 3.38\n@include "scl.conf"\n@include "/etc/syslog-ng/conf.d/*.conf"\n', '/etc/syslog-ng/conf.d/oma.conf', ['oma.conf', 'a.conf'], '/t/oma.conf');
    expect(ng).toBe('@version: 3.38\n@include "scl.conf"\n@include "/etc/syslog-ng/conf.d/a.conf"\n@include "/t/oma.conf"\n');
    expect(validationMainConfig('rsyslog', '$IncludeConfig /etc/rsyslog.d/*.frag\n', '/etc/rsyslog.d/95-oma.conf', [], '/t/95-oma.conf')).toBeUndefined();
  });
});

describe('oma syslog configure', () => {
  it('writes the snippet, then restarts rsyslog through systemd when systemd runs', async () => {
    const l = layout('rsyslog');
    const host = fakeHost({ systemd: true, available: ['rsyslogd', 'systemctl'] });
    const r = await run(host, 'configure', 'rsyslog', '--file', l.file, '--main-config', l.main, '--port', '1514');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(host.calls).toEqual(['/usr/sbin/rsyslogd -N1 -f <temp>', '/usr/sbin/systemctl restart rsyslog']);
    expect(r.stdout).toContain('rsyslog: ran `systemctl restart rsyslog`');
    expect(readFileSync(l.file, 'utf8')).toContain('port="1514"');
    // Unchanged: validated again, nothing written, no restart.
    const again = await run(host, 'configure', 'rsyslog', '--file', l.file, '--main-config', l.main, '--port', '1514');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('unchanged');
    expect(host.calls).toEqual(['/usr/sbin/rsyslogd -N1 -f <temp>', '/usr/sbin/systemctl restart rsyslog', '/usr/sbin/rsyslogd -N1 -f <temp>']);
  });

  it('without systemd, restarts rsyslog through its init script (a HUP would not read the config again)', async () => {
    const l = layout('rsyslog');
    const host = fakeHost({ systemd: false, available: ['rsyslogd', '/etc/init.d/rsyslog'] });
    const r = await run(host, 'configure', 'rsyslog', '--file', l.file, '--main-config', l.main);
    expect(r.code).toBe(0);
    expect(host.calls[1]).toBe('/etc/init.d/rsyslog restart');
  });

  it('reloads syslog-ng with syslog-ng-ctl without systemd, and says so when nothing could reload it', async () => {
    const l = layout('syslog-ng');
    const host = fakeHost({ systemd: false, available: ['syslog-ng', 'syslog-ng-ctl'] });
    const r = await run(host, 'configure', 'syslog-ng', '--file', l.file, '--main-config', l.main);
    expect(r.code).toBe(0);
    expect(host.calls).toEqual(['/usr/sbin/syslog-ng --syntax-only --cfgfile <temp>', '/usr/sbin/syslog-ng-ctl reload']);
    const none = fakeHost({ systemd: false, available: ['syslog-ng'] });
    const u = await run(none, 'unconfigure', 'syslog-ng', '--file', l.file);
    expect(u.code).toBe(1);
    expect(u.stdout).toContain('could not make it read the new configuration; restart it yourself');
    expect(existsSync(l.file)).toBe(false);
  });

  it('leaves the installed snippet as it was when the daemon rejects the new one, and prints what the daemon said', async () => {
    const l = layout('rsyslog');
    const ok = fakeHost({ systemd: false, available: ['rsyslogd'] });
    expect((await run(ok, 'configure', 'rsyslog', '--file', l.file, '--main-config', l.main, '--no-reload')).code).toBe(0);
    const before = readFileSync(l.file, 'utf8');
    const rejecting = fakeHost({
      systemd: true,
      available: ['rsyslogd', 'systemctl'],
      answer: (file, args) => (file.endsWith('rsyslogd') ? { code: 1, stdout: '', stderr: `rsyslogd: error during parsing file ${args[2]?.replace('main.conf', '95-oma.conf') ?? ''}, on or before line 7\n` } : { code: 0, stdout: '', stderr: '' }),
    });
    const r = await run(rejecting, 'configure', 'rsyslog', '--file', l.file, '--main-config', l.main, '--port', '1600');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('rsyslog rejected the snippet');
    expect(r.stderr).toContain(`error during parsing file ${l.file}, on or before line 7`);
    expect(readFileSync(l.file, 'utf8')).toBe(before);
    expect(rejecting.calls).toHaveLength(1);
  });

  it('will not overwrite a file it did not write, and fails when the main config does not read the snippet', async () => {
    const l = layout('rsyslog');
    writeFileSync(l.file, '*.* @@siem.example:514\n');
    const host = fakeHost({ systemd: true, available: ['rsyslogd', 'systemctl'] });
    const r = await run(host, 'configure', 'rsyslog', '--file', l.file, '--main-config', l.main);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('exists and was not written by oma');
    expect(readFileSync(l.file, 'utf8')).toBe('*.* @@siem.example:514\n');
    const elsewhere = join(l.dir, 'other', '95-oma.conf');
    const r2 = await run(host, 'configure', 'rsyslog', '--file', elsewhere, '--main-config', l.main);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(`does not include ${elsewhere}`);
    expect(host.calls).toEqual([]);
  });

  it('--dry-run prints the snippet after validating it and writes nothing', async () => {
    const l = layout('rsyslog');
    const host = fakeHost({ systemd: true, available: ['rsyslogd', 'systemctl'] });
    const r = await run(host, 'configure', 'rsyslog', '--file', l.file, '--main-config', l.main, '--dry-run', '--transport', 'unix');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(':omuxsock:;OMA_ForwardFormat');
    expect(existsSync(l.file)).toBe(false);
    expect(host.calls).toEqual(['/usr/sbin/rsyslogd -N1 -f <temp>']);
  });

  it('rejects bad options as usage errors', async () => {
    const host = fakeHost({ systemd: true, available: [] });
    for (const args of [['configure'], ['configure', 'journald'], ['configure', 'rsyslog', '--port', '70000'], ['configure', 'rsyslog', '--transport', 'udp'],
      ['configure', 'rsyslog', '--facilities', 'bogus'], ['unconfigure', '--file', '/x'], ['reconfigure']]) {
      const r = await run(host, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('Usage:');
    }
  });
});

describe.runIf(process.platform === 'linux')('oma syslog configure defaults', () => {
  it("point where the syslog source listens by default, and where a DCR's syslog sources listen", async () => {
    const { DCR_SYSLOG_DEFAULTS, syslogConfigSchema } = await import('@oma/linux');
    const { DEFAULT_TCP_PORT, DEFAULT_SOCKET } = await import('./syslog-snippet.js');
    expect(DEFAULT_TCP_PORT).toBe(syslogConfigSchema.parse({ tcp: {} }).tcp!.port);
    expect(DEFAULT_TCP_PORT).toBe(DCR_SYSLOG_DEFAULTS.tcpPort);
    expect(DEFAULT_SOCKET).toBe(DCR_SYSLOG_DEFAULTS.socketPath);
    expect(syslogConfigSchema.parse({ udp: {} }).udp!.port).toBe(DCR_SYSLOG_DEFAULTS.udpPort);
  });
});
