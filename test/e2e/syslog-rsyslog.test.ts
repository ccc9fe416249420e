import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runOma, tempDir } from './helpers.js';
import {
  findSyslogNg, LOGGER, OctetCountedListener, PrivateRsyslog, PrivateSyslogNg, RSYSLOG_MISSING, rsyslogLayout, sendWithLogger, SyslogAgent, syslogNgLayout, until,
  type DaemonLayout, type SyslogNg, type SyslogRow,
} from './helpers/rsyslog.js';

// `oma syslog configure rsyslog` against a private rsyslogd (its own config, socket, pid file and spool in a
// temp directory; the system's rsyslog is never touched) and the real agent (the built `oma` binary, its
// syslog source and local workspace in the same temp directory): what it writes must make rsyslog deliver
// every message into the agent's Syslog table, parsed, over TCP or the agent's unix socket, including
// through an outage of the agent. syslog-ng (below) still forwards to a test listener where it runs.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * rsyslogd's zone in these tests: 5 h 30 min east of UTC (a POSIX TZ, no tzdata needed). A message whose
 * offset were lost would be stored hours away from when it was received.
 */
const RSYSLOG_TZ = 'OMA-05:30';

function scenario(): { layout: DaemonLayout; rsyslog: PrivateRsyslog; dir: string } {
  const dir = tempDir('oma-rsyslog-');
  const layout = rsyslogLayout(dir.path);
  const rsyslog = new PrivateRsyslog(layout, { TZ: RSYSLOG_TZ });
  cleanups.push(dir.remove, () => rsyslog.stop());
  return { layout, rsyslog, dir: dir.path };
}

/** The agent (the built `oma` binary) with a syslog source on TCP 127.0.0.1, into its local workspace in `dir`. */
async function tcpAgent(dir: string): Promise<{ agent: SyslogAgent; port: number }> {
  const agent = new SyslogAgent(join(dir, 'agent'), { tcp: 0 });
  cleanups.push(() => agent.stop());
  const port = (await agent.start())!;
  return { agent, port };
}

function configure(layout: DaemonLayout, ...args: string[]): ReturnType<typeof runOma> {
  return runOma(['syslog', 'configure', 'rsyslog', '--file', layout.snippet, '--main-config', layout.mainConfig, '--queue-dir', layout.spoolDir, '--no-reload', ...args]);
}

/** rsyslog's default action batch (queue.dequeueBatchSize): the most a restart can deliver twice. */
const rsyslogBatch = 128;

const ids = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

const messages = (rows: readonly SyslogRow[]): string[] => rows.map((r) => r.SyslogMessage as string);

/**
 * Checks that every row was parsed from what rsyslog forwarded: the tag as ProcessName, facility and level,
 * this host's name, and an EventTime with the year and the zone of rsyslog's RFC 3339 timestamp (within
 * a minute of the receive time, which a lost +05:30 offset would miss by hours).
 */
function expectParsed(rows: readonly SyslogRow[], facility: string, level: string): void {
  const host = hostname().split('.')[0]!;
  for (const r of rows) {
    expect(r).toMatchObject({ ProcessName: 'omatest', Facility: facility, SeverityLevel: level, HostName: expect.stringMatching(new RegExp(`^${host}`)) });
    const event = Date.parse(r.EventTime as string);
    const received = Date.parse(r.TimeGenerated as string);
    expect(Math.abs(received - event), JSON.stringify(r)).toBeLessThan(60_000);
    expect(new Date(event).getUTCFullYear()).toBe(new Date(received).getUTCFullYear());
  }
}

describe.skipIf(RSYSLOG_MISSING !== undefined)(`oma syslog configure rsyslog with a private rsyslogd, into the agent${RSYSLOG_MISSING ? ` (skipped: ${RSYSLOG_MISSING})` : ''}`, () => {
  it('writes a snippet that rsyslog accepts and that forwards every message to the agent, parsed, with the year and the zone', async () => {
    const { layout, rsyslog, dir } = scenario();
    const { agent, port } = await tcpAgent(dir);
    const r = await configure(layout, '--port', String(port));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${layout.snippet}: written (rsyslogd -N1 accepted it)`);
    expect(r.stdout).toContain('not reloaded (--no-reload)');
    await rsyslog.start();
    const sent = ids(200, 'plain');
    await sendWithLogger(layout.socket, sent, { priority: 'local3.notice' });
    const rows = await agent.waitForRows(sent.length);
    expect(messages(rows).sort()).toEqual([...sent].sort());
    expectParsed(rows, 'local3', 'notice');
    // A second run with the same options changes nothing.
    const again = await configure(layout, '--port', String(port));
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${layout.snippet}: unchanged`);
  });

  it('forwards only the facilities and levels asked for', async () => {
    const { layout, rsyslog, dir } = scenario();
    const { agent, port } = await tcpAgent(dir);
    expect((await configure(layout, '--port', String(port), '--facilities', 'local0,auth', '--level', 'warning')).code).toBe(0);
    await rsyslog.start();
    await sendWithLogger(layout.socket, ['skip-info'], { priority: 'local0.info' });
    await sendWithLogger(layout.socket, ['skip-other-facility'], { priority: 'local1.err' });
    await sendWithLogger(layout.socket, ['keep-warning'], { priority: 'local0.warning' });
    await sendWithLogger(layout.socket, ['keep-auth-crit'], { priority: 'auth.crit' });
    const rows = await agent.waitForRows(2);
    // Whatever was filtered out was sent before the last one kept: nothing else comes later.
    const byMsg = new Map(rows.map((row) => [row.SyslogMessage, row]));
    expect([...byMsg.keys()].sort()).toEqual(['keep-auth-crit', 'keep-warning']);
    expectParsed([byMsg.get('keep-warning')!], 'local0', 'warning');
    expectParsed([byMsg.get('keep-auth-crit')!], 'auth', 'crit');
  });

  it('delivers a burst of 20,000 messages with none lost', async () => {
    const { layout, rsyslog, dir } = scenario();
    const { agent, port } = await tcpAgent(dir);
    expect((await configure(layout, '--port', String(port))).code).toBe(0);
    await rsyslog.start();
    const sent = ids(20_000, 'burst');
    await sendWithLogger(layout.socket, sent);
    const rows = await agent.waitForRows(sent.length, 120_000);
    const got = messages(rows);
    expect(got.length).toBe(sent.length);
    expect(new Set(got)).toEqual(new Set(sent));
    expectParsed(rows.slice(0, 100), 'user', 'info');
  });

  it('keeps messages in its disk-assisted queue while the agent is away, over a restart of rsyslog, and delivers them when the agent is back', async () => {
    const { layout, rsyslog, dir } = scenario();
    const { agent, port } = await tcpAgent(dir);
    expect((await configure(layout, '--port', String(port))).code).toBe(0);
    await rsyslog.start();
    await sendWithLogger(layout.socket, ['before']);
    await agent.waitForRows(1);
    // rsyslog stops first (closing its connection), then the agent; rsyslog comes back while the agent is
    // away: its connection attempts fail, it queues what arrives, and saves the queue to disk when it stops.
    // (The other order, the agent closing a connection rsyslog is writing to, costs the message in flight:
    // plain TCP has no acknowledgement; docs/syslog-forwarding.md.)
    await rsyslog.stop();
    await agent.stop();
    await rsyslog.start();
    const held = ids(500, 'held');
    await sendWithLogger(layout.socket, held);
    await until(() => rsyslog.stderr.includes('Connection refused'), 'rsyslog to find the agent away');
    await rsyslog.stop();
    expect(rsyslog.stderr).toMatch(/queue holds \d+ messages after shutdown of workers/);
    expect(readdirSync(layout.spoolDir)).toContain('oma-forward.qi');
    // rsyslog comes back first, then the agent on the same port: the queue drains from disk.
    await rsyslog.start();
    expect(await agent.start()).toBe(port);
    const rows = await agent.waitForRows(1 + held.length, 90_000);
    // Every message arrives. What was in memory and what was on disk may arrive in either order, and the
    // batch rsyslog was handing to its action when it stopped may come again (rsyslog's delivery is at
    // least once; the agent's own de-duplication is not part of this test).
    const got = messages(rows);
    expect(new Set(got)).toEqual(new Set(['before', ...held]));
    expect(got.length - new Set(got).size).toBeLessThanOrEqual(rsyslogBatch);
    expectParsed(rows.filter((row) => row.SyslogMessage === 'before'), 'user', 'info');
  });

  it('delivers through the agent\'s unix socket with --transport unix (omuxsock), parsed', async () => {
    const { layout, rsyslog, dir } = scenario();
    const socket = join(dir, 'agent', 'run', 'syslog.sock');
    const agent = new SyslogAgent(join(dir, 'agent'), { unix: socket });
    cleanups.push(() => agent.stop());
    await agent.start();
    expect((await configure(layout, '--transport', 'unix', '--socket', socket)).code).toBe(0);
    await rsyslog.start();
    const sent = ids(300, 'unix');
    await sendWithLogger(layout.socket, sent, { priority: 'daemon.err' });
    const rows = await agent.waitForRows(sent.length);
    expect(messages(rows).sort()).toEqual([...sent].sort());
    expectParsed(rows, 'daemon', 'err');
    expect(rows.every((row) => row.HostIP === '127.0.0.1')).toBe(true);
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

  it('forwards into the agent, where every message is stored parsed (syslog-ng\'s sequence number kept as structured data)', async () => {
    const { layout, daemon } = ngScenario();
    const { agent, port } = await tcpAgent(layout.workDir);
    const r = await configureNg(layout, '--port', String(port), '--facilities', 'local3', '--level', 'notice');
    expect(r.code, r.stderr).toBe(0);
    await daemon.start();
    const sent = ids(200, 'ng-agent');
    await sendWithLogger(layout.socket, sent, { priority: 'local3.warning' });
    const rows = await agent.waitForRows(sent.length);
    expect(rows.map((row) => (row.SyslogMessage as string).replace(/^\[meta sequenceId="\d+"\] /, '')).sort()).toEqual([...sent].sort());
    for (const row of rows) expect(row.SyslogMessage as string).not.toMatch(/\n$/);
    expectParsed(rows, 'local3', 'warning');
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
