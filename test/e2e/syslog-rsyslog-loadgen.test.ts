import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, runOma, tempDir } from './helpers.js';
import { OctetCountedListener, PrivateRsyslog, RSYSLOG_MISSING, rsyslogLayout } from './helpers/rsyslog.js';

// tools/loadgen (built): its senders against loopback receivers in the test, and rsyslog's loss-free rate.

const LOADGEN = join(REPO, 'tools', 'loadgen', 'dist', 'cli.js');

function loadgen(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [LOADGEN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

interface SendJson {
  sent: number;
  bytes: number;
  errors: number;
  elapsedSec: number;
}

/** The sequence numbers (after the run id `run<pid>`) of the messages received. */
const seqs = (messages: readonly string[]): number[] => messages.map((m) => Number(/ run\d+ (\d{10})/.exec(m)?.[1] ?? -1)).sort((a, b) => a - b);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('loadgen senders', () => {
  it('udp: every message once, numbered 0..count-1, of the size asked for, no faster than the rate', async () => {
    const socket = createSocket('udp4');
    const got: Buffer[] = [];
    socket.on('message', (m) => got.push(m));
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => socket.close(() => r())));
    const r = await loadgen('udp', '--port', String(socket.address().port), '--rate', '2000', '--count', '1000', '--size', '150', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as SendJson;
    expect(out).toMatchObject({ sent: 1000, bytes: 150_000, errors: 0 });
    // The pacer never runs ahead: 1000 messages at 2000/s take at least half a second.
    expect(out.elapsedSec).toBeGreaterThanOrEqual(0.499);
    await expect.poll(() => got.length, { timeout: 20_000 }).toBe(1000);
    expect(got.every((m) => m.length === 150)).toBe(true);
    expect(got[0]!.toString()).toMatch(/^<134>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ loadgen\[\d+\]: run\d+ 0000000000 x+$/);
    expect(seqs(got.map(String))).toEqual(range(1000));
  });

  it('tcp: octet-counted frames over two connections, numbered in disjoint ranges', async () => {
    const listener = new OctetCountedListener();
    const port = await listener.listen(0);
    cleanups.push(() => listener.close());
    const r = await loadgen('tcp', '--port', String(port), '--rate', '0', '--count', '5000', '--senders', '2', '--format', 'rfc5424', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ sent: 5000, errors: 0 });
    await listener.waitForCount(5000);
    expect(listener.framingErrors).toEqual([]);
    expect(listener.messages[0]).toMatch(/^<134>1 \d{4}-\d\d-\d\dT[\d:.]+Z \S+ loadgen \d+ - - run\d+ \d{10}/);
    expect(seqs(listener.messages)).toEqual(range(5000));
  });

  it('tcp: line-feed framing', async () => {
    const lines: string[] = [];
    const server: Server = createServer((s) => {
      let rest = '';
      s.setEncoding('utf8').on('data', (d: string) => {
        const parts = (rest + d).split('\n');
        rest = parts.pop() ?? '';
        lines.push(...parts);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const r = await loadgen('tcp', '--port', String((server.address() as { port: number }).port), '--rate', '0', '--count', '3000', '--framing', 'lf');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tcp: sent 3000 messages/);
    await expect.poll(() => lines.length, { timeout: 20_000 }).toBe(3000);
    expect(seqs(lines)).toEqual(range(3000));
  });

  it('refuses a target that is not on this machine, and an unbounded run', async () => {
    const far = await loadgen('udp', '--host', '192.0.2.1', '--port', '514', '--rate', '1', '--count', '1');
    expect(far.code).toBe(2);
    expect(far.stderr).toContain('loopback targets only');
    const huge = await loadgen('udp', '--port', '514', '--rate', '1', '--count', '1000000000');
    expect(huge.code).toBe(2);
    expect(huge.stderr).toContain('count must be a whole number from 0 to 100000000');
  });
});

describe.skipIf(RSYSLOG_MISSING !== undefined)(`loadgen with rsyslog${RSYSLOG_MISSING ? ` (skipped: ${RSYSLOG_MISSING})` : ''}`, () => {
  it('unix: messages through logger into rsyslog\'s unix socket all come out of its forwarding', async () => {
    const dir = tempDir('oma-loadgen-unix-');
    const layout = rsyslogLayout(dir.path);
    const rsyslog = new PrivateRsyslog(layout);
    const listener = new OctetCountedListener();
    cleanups.push(dir.remove, () => listener.close(), () => rsyslog.stop());
    const port = await listener.listen(0);
    const c = await runOma(['syslog', 'configure', 'rsyslog', '--file', layout.snippet, '--main-config', layout.mainConfig, '--queue-dir', layout.spoolDir, '--no-reload', '--port', String(port)]);
    expect(c.code).toBe(0);
    await rsyslog.start();
    const r = await loadgen('unix', '--socket', layout.socket, '--rate', '0', '--count', '2000', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await listener.waitForCount(2000);
    expect(seqs(listener.messages)).toEqual(range(2000));
  });

  it('rsyslog-rate: a short search reports a loss-free step with rsyslogd\'s CPU per message', async () => {
    const r = await loadgen('rsyslog-rate', '--duration-s', '1', '--start-rate', '2000', '--max-rate', '2000', '--refine', '0', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { best?: { sent: number; written: number; lost: number; lossFree: boolean; cpuSec: number; cpuUsPerMsg: number }; steps: unknown[] };
    expect(out.steps).toHaveLength(1);
    expect(out.best).toMatchObject({ sent: 2000, written: 2000, lost: 0, lossFree: true });
    expect(out.best!.cpuSec).toBeGreaterThan(0);
    expect(out.best!.cpuUsPerMsg).toBeCloseTo((out.best!.cpuSec * 1e6) / 2000, 6);
  });
});
