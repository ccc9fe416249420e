import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runOma, tempDir } from './helpers.js';
import {
  findSyslogNg, LOGGER, OctetCountedListener, PrivateRsyslog, PrivateSyslogNg, RSYSLOG_MISSING, rsyslogLayout, sendWithLogger, syslogNgLayout, until,
  type DaemonLayout, type SyslogNg,
} from './helpers/rsyslog.js';

// `oma syslog configure rsyslog` against a private rsyslogd (its own config, socket, pid file and spool in a
// temp directory; the system's rsyslog is never touched): what it writes must make rsyslog deliver every
// message to the agent's TCP port, octet-counted, including through an outage of the agent.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function scenario(): { layout: DaemonLayout; rsyslog: PrivateRsyslog; listener: OctetCountedListener } {
  const dir = tempDir('oma-rsyslog-');
  const layout = rsyslogLayout(dir.path);
  const rsyslog = new PrivateRsyslog(layout);
  const listener = new OctetCountedListener();
  cleanups.push(dir.remove, () => listener.close(), () => rsyslog.stop());
  return { layout, rsyslog, listener };
}

function configure(layout: DaemonLayout, ...args: string[]): ReturnType<typeof runOma> {
  return runOma(['syslog', 'configure', 'rsyslog', '--file', layout.snippet, '--main-config', layout.mainConfig, '--queue-dir', layout.spoolDir, '--no-reload', ...args]);
}

/** rsyslog's default action batch (queue.dequeueBatchSize): the most a restart can deliver twice. */
const rsyslogBatch = 128;

const ids = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** The message text after the tag of each forwarded frame. */
const bodies = (messages: readonly string[]): string[] => messages.map((m) => m.replace(/^.*? omatest: /s, ''));

describe.skipIf(RSYSLOG_MISSING !== undefined)(`oma syslog configure rsyslog with a private rsyslogd${RSYSLOG_MISSING ? ` (skipped: ${RSYSLOG_MISSING})` : ''}`, () => {
  it('writes a snippet that rsyslog accepts and that forwards every message, with the year and the zone', async () => {
    const { layout, rsyslog, listener } = scenario();
    const port = await listener.listen(0);
    const r = await configure(layout, '--port', String(port));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${layout.snippet}: written (rsyslogd -N1 accepted it)`);
    expect(r.stdout).toContain('not reloaded (--no-reload)');
    await rsyslog.start();
    const sent = ids(200, 'plain');
    await sendWithLogger(layout.socket, sent, { priority: 'local3.notice' });
    await listener.waitForCount(sent.length);
    expect(bodies(listener.messages)).toEqual(sent);
    expect(listener.framingErrors).toEqual([]);
    // <PRI> (local3 = 19, notice = 5: 19 * 8 + 5), an RFC 3339 timestamp with year and offset, the host, the tag.
    expect(listener.messages[0]).toMatch(new RegExp(`^<157>\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?([+-]\\d\\d:\\d\\d|Z) ${hostname().split('.')[0]}\\S* omatest: plain-0$`));
    // A second run with the same options changes nothing.
    const again = await configure(layout, '--port', String(port));
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${layout.snippet}: unchanged`);
  });

  it('forwards only the facilities and levels asked for', async () => {
    const { layout, rsyslog, listener } = scenario();
    const port = await listener.listen(0);
    expect((await configure(layout, '--port', String(port), '--facilities', 'local0,auth', '--level', 'warning')).code).toBe(0);
    await rsyslog.start();
    await sendWithLogger(layout.socket, ['skip-info'], { priority: 'local0.info' });
    await sendWithLogger(layout.socket, ['skip-other-facility'], { priority: 'local1.err' });
    await sendWithLogger(layout.socket, ['keep-warning'], { priority: 'local0.warning' });
    await sendWithLogger(layout.socket, ['keep-auth-crit'], { priority: 'auth.crit' });
    await listener.waitForCount(2);
    expect(bodies(listener.messages)).toEqual(['keep-warning', 'keep-auth-crit']);
  });

  it('delivers a burst of 20,000 messages with none lost', async () => {
    const { layout, rsyslog, listener } = scenario();
    const port = await listener.listen(0);
    expect((await configure(layout, '--port', String(port))).code).toBe(0);
    await rsyslog.start();
    const sent = ids(20_000, 'burst');
    await sendWithLogger(layout.socket, sent);
    await listener.waitForCount(sent.length, 120_000);
    const got = bodies(listener.messages);
    expect(got.length).toBe(sent.length);
    expect(new Set(got)).toEqual(new Set(sent));
  });

  it('keeps messages in its disk-assisted queue while the agent is away, over a restart of rsyslog, and delivers them when it is back', async () => {
    const { layout, rsyslog, listener } = scenario();
    const port = await listener.listen(0);
    expect((await configure(layout, '--port', String(port))).code).toBe(0);
    await rsyslog.start();
    await sendWithLogger(layout.socket, ['before']);
    await listener.waitForCount(1);
    // rsyslog stops first (closing its connection), then the agent; rsyslog comes back while the agent is
    // away: its connection attempts fail, it queues what arrives, and saves the queue to disk when it stops.
    // (The other order, the agent closing a connection rsyslog is writing to, costs the message in flight:
    // plain TCP has no acknowledgement; docs/syslog-forwarding.md.)
    await rsyslog.stop();
    await listener.close();
    await rsyslog.start();
    const held = ids(500, 'held');
    await sendWithLogger(layout.socket, held);
    await until(() => rsyslog.stderr.includes('Connection refused'), 'rsyslog to find the agent away');
    await rsyslog.stop();
    expect(rsyslog.stderr).toMatch(/queue holds \d+ messages after shutdown of workers/);
    expect(readdirSync(layout.spoolDir)).toContain('oma-forward.qi');
    expect(listener.messages.length).toBe(1);
    // rsyslog comes back first, then the agent: the queue drains from disk.
    await rsyslog.start();
    await listener.listen(port);
    await listener.waitForCount(1 + held.length, 90_000);
    // Every message arrives. What was in memory and what was on disk may arrive in either order, and the
    // batch rsyslog was handing to its action when it stopped may come again (rsyslog's delivery is at
    // least once; the agent's own de-duplication is not part of this test).
    const got = bodies(listener.messages);
    expect(new Set(got)).toEqual(new Set(['before', ...held]));
    expect(got.length - new Set(got).size).toBeLessThanOrEqual(rsyslogBatch);
  });

  it('leaves the installed snippet untouched when rsyslog rejects the configuration, and prints why', async () => {
    const { layout } = scenario();
    expect((await configure(layout, '--port', '28330')).code).toBe(0);
    const before = readFileSync(layout.snippet, 'utf8');
    writeFileSync(join(layout.includeDir, '99-broken.conf'), 'action(type="omfwd" no_such_parameter="1")\n');
    const r = await configure(layout, '--port', '28331');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('rsyslog rejected the snippet');
    expect(r.stderr).toMatch(/no_such_parameter|parameter .* not known|invalid/i);
    expect(readFileSync(layout.snippet, 'utf8')).toBe(before);
    expect(readdirSync(layout.includeDir).sort()).toEqual(['95-oma.conf', '99-broken.conf']);
  });

  it('unconfigure removes exactly its own file', async () => {
    const { layout } = scenario();
    const other = join(layout.includeDir, '50-site.conf');
    writeFileSync(other, '# the site\'s own rules\n');
    expect((await configure(layout, '--port', '28330')).code).toBe(0);
    const r = await runOma(['syslog', 'unconfigure', 'rsyslog', '--file', layout.snippet, '--no-reload']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${layout.snippet}: removed`);
    expect(readdirSync(layout.includeDir)).toEqual(['50-site.conf']);
    const twice = await runOma(['syslog', 'unconfigure', 'rsyslog', '--file', layout.snippet, '--no-reload']);
    expect(twice.code).toBe(0);
    expect(twice.stdout).toContain('nothing to remove');
    // A file of the same name that oma did not write stays.
    const refused = await runOma(['syslog', 'unconfigure', 'rsyslog', '--file', other, '--no-reload']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('was not written by oma; left in place');
    expect(existsSync(other)).toBe(true);
  });
});

// syslog-ng's snippet, checked and run by a private syslog-ng (Debian's conflicts with rsyslog: see findSyslogNg).
const ngDir = tempDir('oma-syslog-ng-');
afterAll(() => ngDir.remove());
const syslogNg = findSyslogNg(ngDir.path);

describe.skipIf(typeof syslogNg === 'string' || LOGGER === undefined)(`oma syslog configure syslog-ng with a private syslog-ng${typeof syslogNg === 'string' ? ` (skipped: ${syslogNg})` : ''}`, () => {
  const ng = syslogNg as SyslogNg;
  const withNg = { PATH: `${ng.binDir}${delimiter}${process.env.PATH ?? ''}` };

  function ngScenario(): { layout: DaemonLayout; daemon: PrivateSyslogNg; listener: OctetCountedListener } {
    const dir = tempDir('oma-syslog-ng-');
    const layout = syslogNgLayout(dir.path);
    const daemon = new PrivateSyslogNg(layout, ng);
    const listener = new OctetCountedListener();
    cleanups.push(dir.remove, () => listener.close(), () => daemon.stop());
    return { layout, daemon, listener };
  }

  function configureNg(layout: DaemonLayout, ...args: string[]): ReturnType<typeof runOma> {
    return runOma(['syslog', 'configure', 'syslog-ng', '--file', layout.snippet, '--main-config', layout.mainConfig, '--queue-dir', layout.spoolDir, '--no-reload', ...args], withNg);
  }

  it('writes a snippet that syslog-ng accepts and that forwards every message in RFC 5424, octet-counted', async () => {
    const { layout, daemon, listener } = ngScenario();
    const port = await listener.listen(0);
    const r = await configureNg(layout, '--port', String(port), '--facilities', 'local0,local3', '--level', 'notice');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${layout.snippet}: written (syslog-ng --syntax-only accepted it)`);
    await daemon.start();
    await sendWithLogger(layout.socket, ['skip-info'], { priority: 'local0.info' });
    await sendWithLogger(layout.socket, ['skip-facility'], { priority: 'local1.err' });
    const sent = ids(200, 'ng');
    await sendWithLogger(layout.socket, sent, { priority: 'local3.notice' });
    await listener.waitForCount(sent.length);
    expect(listener.framingErrors).toEqual([]);
    // <157> (local3.notice), version 1, an RFC 3339 timestamp with year and offset, then host, app, pid and
    // msgid, syslog-ng's sequence number as structured data, the message and a line feed inside the frame.
    expect(listener.messages[0], JSON.stringify(listener.messages[0])).toMatch(/^<157>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z) \S+ omatest - - \[meta sequenceId="\d+"\] ng-0\n?$/);
    expect(listener.messages.map((m) => m.replace(/^.*\] /, '').trimEnd())).toEqual(sent);
  });

  it('the unix socket snippet passes syslog-ng --syntax-only', async () => {
    const { layout } = ngScenario();
    const r = await configureNg(layout, '--transport', 'unix', '--socket', join(layout.workDir, 'agent.sock'), '--dry-run');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('syslog-ng --syntax-only accepted it');
    expect(existsSync(layout.snippet)).toBe(false);
  });

  it('leaves the installed snippet untouched when syslog-ng rejects the configuration', async () => {
    const { layout } = ngScenario();
    expect((await configureNg(layout, '--port', '28330')).code).toBe(0);
    const before = readFileSync(layout.snippet, 'utf8');
    writeFileSync(join(layout.includeDir, 'zz-broken.conf'), 'destination d_broken { no_such_driver(); };\n');
    const r = await configureNg(layout, '--port', '28331');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('syslog-ng rejected the snippet');
    expect(r.stderr).toMatch(/no_such_driver|syntax error/i);
    expect(readFileSync(layout.snippet, 'utf8')).toBe(before);
  });
});
