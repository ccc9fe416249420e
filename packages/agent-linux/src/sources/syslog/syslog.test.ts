import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AgentError,
  ComponentRegistry,
  mapDcrToSources,
  SYSLOG,
  validateRecord,
  type LogRecord,
} from '@oma/core';
import { FakeUdpDatagramBinding, FakeUnixDatagramBinding, testSourceContext, type TestSourceContext } from '@oma/core/testing';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nativeUdpDatagram } from '../../native/unix-datagram.js';
import { syslogConfigSchema } from './config.js';
import { syslogSource } from './index.js';
import { SyslogSource, type SyslogDeps } from './syslog.js';
import { SyslogListeners } from './transports/shared.js';

/** UDP through the unixdgram addon (Linux), no unix binding. */
const noUnix: SyslogDeps = {
  unixDatagram: () => {
    throw new Error('no unix binding in this test');
  },
  ...(process.platform === 'linux' ? { udpDatagram: nativeUdpDatagram } : {}),
};

/** A directory of this test run's own for socket paths. */
const sockDir = mkdtempSync(join(tmpdir(), 'oma-syslog-'));

const running: SyslogSource[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop(AbortSignal.timeout(5000));
});

async function startSource(options: Record<string, unknown>, deps: SyslogDeps = noUnix, ctx: TestSourceContext = testSourceContext({ type: 'syslog' })) {
  const config = syslogConfigSchema.parse(options);
  const src = new SyslogSource(config, ctx, deps);
  await src.start();
  running.push(src);
  return { src, ctx };
}

/** A record's SyslogMessage. */
function text(r: LogRecord): string {
  return r.SyslogMessage as string;
}

function records(ctx: TestSourceContext): LogRecord[] {
  return ctx.emitted.flatMap((b) => b.records);
}

/** A counter's (or, for `*_connections`, the gauge's) value summed over label sets that include `labels`. */
function metric(ctx: TestSourceContext, name: string, labels: Record<string, string> = {}): number {
  ctx.registry.render(); // runs the collectors: the source's counts reach the registry
  const m = name === 'oma_syslog_open_connections' ? ctx.registry.gauge(name, '') : ctx.registry.counter(name, '');
  return m.sum({ ...ctx.labels, ...labels });
}

function sendUdp(port: number, frames: Array<string | Buffer>): Promise<void> {
  const s = createSocket('udp4');
  return new Promise((resolve, reject) => {
    let left = frames.length;
    if (left === 0) return resolve();
    for (const f of frames) {
      s.send(typeof f === 'string' ? Buffer.from(f) : f, port, '127.0.0.1', (err) => {
        if (err) reject(err);
        if (--left === 0) s.close(() => resolve());
      });
    }
  });
}

async function tcpConnect(port: number): Promise<Socket> {
  const c = connect({ port, host: '127.0.0.1' });
  await once(c, 'connect');
  return c;
}

function endAndClose(c: Socket): Promise<void> {
  return new Promise((r) => {
    c.once('close', () => r());
    c.end();
  });
}

const line = (i: number) => `<86>Jun 15 11:59:01 web01 sshd[${i}]: message ${i}`;

describe('syslog source over UDP', () => {
  it('stores each datagram as a Syslog record with the columns of the table', async () => {
    const { src, ctx } = await startSource({ udp: { port: 0 } });
    const port = src.addresses.udp!.port;
    await sendUdp(port, [
      '<86>Jun 15 11:59:01 web01 sshd[2741]: Accepted publickey for deploy',
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An "event"',
      '<13>Jun 15 11:00:00 myapp: no host\tname',
      'plain text, no PRI',
    ]);
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(4), { timeout: 5000 });
    const rs = records(ctx).sort((a, b) => text(a).localeCompare(text(b)));
    for (const r of rs) expect(validateRecord(SYSLOG, r)).toEqual([]);
    const byMsg = new Map(rs.map((r) => [r.SyslogMessage, r]));
    expect(byMsg.get('Accepted publickey for deploy')).toMatchObject({
      Computer: 'test-host',
      CollectorHostName: 'test-host',
      HostName: 'web01',
      HostIP: '127.0.0.1',
      Facility: 'authpriv',
      SeverityLevel: 'info',
      ProcessName: 'sshd',
      ProcessID: 2741,
    });
    expect(byMsg.get('[exampleSDID@32473 iut="3"] An "event"')).toMatchObject({
      HostName: 'mymachine.example.com',
      ProcessName: 'evntslog',
      EventTime: '2003-10-11T22:14:15.003Z',
      Facility: 'local4',
      SeverityLevel: 'notice',
    });
    // No host name in the message, from a loopback sender: this host.
    const noHost = byMsg.get('no host\tname')!;
    expect(noHost).toMatchObject({ HostName: 'test-host', ProcessName: 'myapp', Facility: 'user', SeverityLevel: 'notice' });
    expect(noHost).not.toHaveProperty('ProcessID');
    const unparsed = byMsg.get('plain text, no PRI')!;
    expect(unparsed).toMatchObject({ Facility: 'user', SeverityLevel: 'notice', HostName: 'test-host' });
    expect(unparsed).not.toHaveProperty('ProcessName');
    // No time of its own: EventTime is the receive time.
    expect(unparsed.EventTime).toBe(unparsed.TimeGenerated);
    await vi.waitFor(() => {
      expect(metric(ctx, 'oma_syslog_received_messages_total', { transport: 'udp' })).toBe(4);
      expect(metric(ctx, 'oma_syslog_parsed_messages_total', { format: 'rfc3164' })).toBe(2);
      expect(metric(ctx, 'oma_syslog_parsed_messages_total', { format: 'rfc5424' })).toBe(1);
      expect(metric(ctx, 'oma_syslog_parsed_messages_total', { format: 'unparsed' })).toBe(1);
    });
  });

  it('applies the facility and level filters, and counts empty and binary frames as drops', async () => {
    const { src, ctx } = await startSource({ udp: { port: 0 }, facilities: ['auth', 'local0'], levels: ['Warning', 'Error', 'Critical', 'Alert', 'Emergency'] });
    const port = src.addresses.udp!.port;
    await sendUdp(port, [
      '<34>Jun 15 10:00:00 h su: auth crit kept', // auth.crit
      '<38>Jun 15 10:00:00 h su: auth info filtered', // auth.info
      '<132>Jun 15 10:00:00 h app: local0 warning kept', // local0.warning
      '<11>Jun 15 10:00:00 h app: user err filtered', // user.err
      '',
      '\n',
      Buffer.from([0, 0, 0, 0, 0x41, 0, 0]),
    ]);
    await vi.waitFor(() => {
      expect(metric(ctx, 'oma_syslog_received_messages_total')).toBe(7);
      expect(metric(ctx, 'oma_syslog_filtered_messages_total')).toBe(2);
      expect(metric(ctx, 'oma_component_discarded_records_total', { reason: 'empty' })).toBe(2);
      expect(metric(ctx, 'oma_component_discarded_records_total', { reason: 'binary' })).toBe(1);
      expect(records(ctx).map((r) => r.SyslogMessage).sort()).toEqual(['auth crit kept', 'local0 warning kept']);
    });
  });

  it('fails to start with OMA_ERR_SYSLOG_LISTEN when the port is taken', async () => {
    const taken = createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '127.0.0.1', () => r()));
    try {
      const src = new SyslogSource(syslogConfigSchema.parse({ udp: { port: taken.address().port } }), testSourceContext(), noUnix);
      await expect(src.start()).rejects.toMatchObject({ code: 'OMA_ERR_SYSLOG_LISTEN', message: expect.stringMatching(/udp.*EADDRINUSE/) });
    } finally {
      taken.close();
    }
  });
});

describe('syslog source over TCP', () => {
  it('takes LF-framed and octet-counted connections side by side, frames split across writes', async () => {
    const { src, ctx } = await startSource({ tcp: { port: 0 } });
    const port = src.addresses.tcp!.port;
    const a = await tcpConnect(port);
    const b = await tcpConnect(port);
    const lfText = `${line(1)}\n${line(2)}\n${line(3)}\n`;
    const octText = [line(4), line(5), line(6)].map((l) => `${Buffer.byteLength(l)} ${l}`).join('');
    for (let i = 0; i < lfText.length; i += 17) a.write(lfText.slice(i, i + 17));
    for (let i = 0; i < octText.length; i += 13) b.write(octText.slice(i, i + 13));
    await Promise.all([endAndClose(a), endAndClose(b)]);
    await vi.waitFor(() => expect(records(ctx).map((r) => r.SyslogMessage).sort()).toEqual([1, 2, 3, 4, 5, 6].map((i) => `message ${i}`)));
    expect(records(ctx).every((r) => r.ProcessName === 'sshd' && r.HostName === 'web01' && r.HostIP === '127.0.0.1')).toBe(true);
    await vi.waitFor(() => expect(metric(ctx, 'oma_syslog_connections_total')).toBe(2));
  });

  it("stores syslog-ng's octet-counted RFC 5424 frames (a LF inside each frame) without the LF", async () => {
    const { src, ctx } = await startSource({ tcp: { port: 0 } });
    const c = await tcpConnect(src.addresses.tcp!.port);
    const frames = [1, 2].map((i) => `<157>1 2024-06-15T12:00:00+02:00 web01 omatest - - [meta sequenceId="${i}"] ng-${i}\n`);
    c.write(frames.map((f) => `${Buffer.byteLength(f)} ${f}`).join(''));
    await endAndClose(c);
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(2));
    expect(records(ctx).map(text)).toEqual(['[meta sequenceId="1"] ng-1', '[meta sequenceId="2"] ng-2']);
    expect(records(ctx)[0]).toMatchObject({ ProcessName: 'omatest', Facility: 'local3', SeverityLevel: 'notice', EventTime: '2024-06-15T10:00:00.000Z' });
  });

  it('delivers every message of many connections at once', async () => {
    const { src, ctx } = await startSource({ tcp: { port: 0 }, maxBatchRecords: 50 });
    const port = src.addresses.tcp!.port;
    const conns = 40;
    const each = 100;
    await Promise.all(
      Array.from({ length: conns }, async (_, c) => {
        const s = await tcpConnect(port);
        const octet = c % 2 === 0;
        let text = '';
        for (let i = 0; i < each; i++) {
          const l = `<14>Jun 15 10:00:00 h app: c${c} m${i}`;
          text += octet ? `${Buffer.byteLength(l)} ${l}` : `${l}\n`;
        }
        s.write(text);
        await endAndClose(s);
      }),
    );
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(conns * each), { timeout: 10_000 });
    expect(new Set(records(ctx).map((r) => r.SyslogMessage)).size).toBe(conns * each);
  });

  it('stores a last line without LF at close, and counts a half octet-counted frame at close', async () => {
    const { src, ctx } = await startSource({ tcp: { port: 0 } });
    const port = src.addresses.tcp!.port;
    const a = await tcpConnect(port);
    a.write(`${line(1)}\n${line(2)}`);
    await endAndClose(a);
    const b = await tcpConnect(port);
    const l3 = line(3);
    b.write(`${Buffer.byteLength(l3)} ${l3}200 <14>Jun 15 10:00:00 h app: cut sh`);
    await endAndClose(b);
    await vi.waitFor(() => {
      expect(records(ctx).map((r) => r.SyslogMessage).sort()).toEqual(['message 1', 'message 2', 'message 3']);
      expect(metric(ctx, 'oma_component_discarded_records_total', { reason: 'frame_incomplete' })).toBe(1);
    });
  });

  it('stores the last line without LF of a connection still open when the source stops', async () => {
    const { src, ctx } = await startSource({ tcp: { port: 0 } });
    const c = await tcpConnect(src.addresses.tcp!.port);
    c.on('error', () => undefined);
    c.write(`${line(1)}\n${line(2)}`);
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(1));
    running.splice(running.indexOf(src), 1);
    await src.stop(AbortSignal.timeout(5000));
    expect(records(ctx).map(text)).toEqual(['message 1', 'message 2']);
    await vi.waitFor(() => expect(metric(ctx, 'oma_syslog_open_connections')).toBe(0));
    c.destroy();
  });

  it('closes a connection idle for idleTimeoutMs', async () => {
    const { src, ctx } = await startSource({ tcp: { port: 0, idleTimeoutMs: 150 } });
    const c = await tcpConnect(src.addresses.tcp!.port);
    c.write(`${line(1)}\n`);
    const closed = once(c, 'close');
    c.on('error', () => undefined);
    await closed;
    await vi.waitFor(() => {
      expect(metric(ctx, 'oma_syslog_connections_idle_closed_total')).toBe(1);
      expect(metric(ctx, 'oma_syslog_open_connections')).toBe(0);
    });
    expect(records(ctx).map((r) => r.SyslogMessage)).toEqual(['message 1']);
  });

  it('refuses connections beyond maxConnections and counts them', async () => {
    const { src, ctx } = await startSource({ tcp: { port: 0, maxConnections: 2 } });
    const port = src.addresses.tcp!.port;
    const a = await tcpConnect(port);
    const b = await tcpConnect(port);
    await vi.waitFor(() => expect(metric(ctx, 'oma_syslog_open_connections')).toBe(2));
    const c = await tcpConnect(port);
    c.on('error', () => undefined);
    await once(c, 'close');
    await vi.waitFor(() => expect(metric(ctx, 'oma_syslog_connections_refused_total')).toBe(1));
    a.write(`${line(1)}\n`);
    await Promise.all([endAndClose(a), endAndClose(b)]);
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(1));
  });

  it('cuts messages longer than maxMessageBytes and counts them', async () => {
    const { src, ctx } = await startSource({ tcp: { port: 0 }, maxMessageBytes: 512 });
    const c = await tcpConnect(src.addresses.tcp!.port);
    c.write(`<14>Jun 15 10:00:00 h app: ${'z'.repeat(2000)}\n${line(2)}\n`);
    await endAndClose(c);
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(2));
    const long = records(ctx).find((r) => text(r).startsWith('z'))!;
    expect(text(long)).toBe('z'.repeat(512 - '<14>Jun 15 10:00:00 h app: '.length));
    expect(metric(ctx, 'oma_component_discarded_records_total', { reason: 'message_truncated' })).toBe(1);
  });

  it('blocks a TCP sender while emits are held, and loses nothing when they are released', async () => {
    const ctx = testSourceContext({ type: 'syslog' });
    const { src } = await startSource({ tcp: { port: 0 }, maxBatchRecords: 200, maxEmitsInFlight: 1 }, noUnix, ctx);
    ctx.hold();
    const c = await tcpConnect(src.addresses.tcp!.port);
    const total = 100_000;
    let sent = 0;
    let blocked = false;
    // Writes until the socket says stop, again after each drain: the sender's own flow control.
    const pump = (): void => {
      while (sent < total) {
        const l = `<14>Jun 15 10:00:00 h app: backpressure message number ${sent} ${'p'.repeat(100)}\n`;
        sent++;
        if (!c.write(l)) {
          blocked = true;
          c.once('drain', pump);
          return;
        }
      }
      c.end();
    };
    pump();
    // The source stops reading: what it received stops growing, far short of what was written, and
    // the sender's writes stop draining.
    let last = -1;
    await vi.waitFor(
      () => {
        const now = metric(ctx, 'oma_syslog_received_messages_total', { transport: 'tcp' });
        const stable = now === last;
        last = now;
        expect(stable && blocked && c.writableNeedDrain).toBe(true);
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(last).toBeLessThan(total / 10);
    expect(sent).toBeLessThan(total);
    expect(records(ctx)).toHaveLength(0);
    ctx.release();
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(total), { timeout: 30_000 });
    const seen = new Set(records(ctx).map((r) => text(r).split(' ')[3]));
    expect(seen.size).toBe(total);
    }, 60_000);
});

/** The fake unix binding with room for big bursts, and a sock path of this run's own. */
function fakeUnix() {
  const binding = new FakeUnixDatagramBinding({ queueDatagrams: 1_000_000, groups: { adm: 4 } });
  const path = join(sockDir, `s${Math.random().toString(36).slice(2, 10)}.sock`);
  const send = (frames: Array<string | Buffer>) => binding.send(path, frames.map((f) => (typeof f === 'string' ? Buffer.from(f) : f)));
  return { binding, path, send, deps: { ...noUnix, unixDatagram: () => binding } as SyslogDeps };
}

describe('syslog source on a unix datagram socket', () => {
  it('opens the socket with its options and stores what it drains, from this host', async () => {
    const u = fakeUnix();
    const { ctx } = await startSource({ unix: { path: u.path, mode: '0660', group: 'adm' }, maxMessageBytes: 480 }, u.deps);
    expect(u.binding.opened[0]).toMatchObject({ path: u.path, mode: 0o660, group: 'adm', maxDatagramBytes: 480 });
    expect(u.binding.stat(u.path)).toEqual({ kind: 'socket', mode: 0o660, gid: 4 });
    u.binding.socket(u.path)!.simulateKernelDrops(3);
    u.send(['<30>Jun  5 08:00:00 systemd[1]: Started.', `<13>Jun  5 08:00:01 logger: ${'x'.repeat(600)}`]);
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(2));
    expect(records(ctx)[0]).toMatchObject({ HostName: 'test-host', HostIP: '127.0.0.1', ProcessName: 'systemd', ProcessID: 1, SyslogMessage: 'Started.' });
    await vi.waitFor(() => {
      expect(metric(ctx, 'oma_syslog_kernel_drops_total')).toBe(3);
      expect(metric(ctx, 'oma_component_discarded_records_total', { reason: 'message_truncated' })).toBe(1);
      expect(metric(ctx, 'oma_syslog_received_messages_total', { transport: 'unix' })).toBe(2);
    });
  });

  it('pauses the socket while batches wait for the queue, and resumes when they are taken', async () => {
    const u = fakeUnix();
    const ctx = testSourceContext({ type: 'syslog' });
    await startSource({ unix: { path: u.path }, maxBatchRecords: 2, maxEmitsInFlight: 1 }, u.deps, ctx);
    const socket = u.binding.socket(u.path)!;
    ctx.hold();
    u.send([line(1), line(2)]); // in flight (held)
    await vi.waitFor(() => expect(socket.batches).toBe(1));
    expect(socket.isPaused).toBe(false);
    u.send([line(3), line(4)]); // waits: the socket is paused
    await vi.waitFor(() => expect(socket.isPaused).toBe(true));
    ctx.release();
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(4));
    expect(socket.isPaused).toBe(false);
  });

  it('reports a platform without the binding when the unix transport is configured', async () => {
    const src = new SyslogSource(syslogConfigSchema.parse({ unix: { path: join(sockDir, 'x.sock') }, tcp: { port: 0 } }), testSourceContext(), noUnix);
    await expect(src.start()).rejects.toThrow(/no unix binding/);
  });

  it('creates the socket directory when missing; when it cannot be, logs why and runs the other transports', async () => {
    const u = fakeUnix();
    const deep = join(sockDir, 'run', 'oma', 'syslog.sock');
    await startSource({ unix: { path: deep } }, u.deps);
    expect(u.binding.socket(deep)).toBeDefined();
    // A regular file where the directory should be: mkdir fails (EEXIST), even for root.
    const file = join(sockDir, 'not-a-dir');
    writeFileSync(file, '');
    const logs: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (l: string) => logs.push(JSON.parse(l) as Record<string, unknown>) });
    const ctx = testSourceContext({ type: 'syslog', log });
    const { src } = await startSource({ unix: { path: join(file, 'syslog.sock') }, tcp: { port: 0 } }, u.deps, ctx);
    expect(src.addresses.unix).toBeUndefined();
    expect(src.addresses.tcp!.port).toBeGreaterThan(0);
    expect(logs.find((l) => l.msg === 'syslog unix socket directory cannot be created; the other transports run')).toMatchObject({ transport: 'unix', err: { code: 'EEXIST' } });
    // Alone, the unix transport fails the start.
    const alone = new SyslogSource(syslogConfigSchema.parse({ unix: { path: join(file, 'syslog.sock') } }), testSourceContext(), u.deps);
    await expect(alone.start()).rejects.toMatchObject({ code: 'OMA_ERR_SYSLOG_LISTEN' });
  });
});

describe.runIf(process.platform === 'linux')('syslog source on a real unix socket (the unixdgram addon)', async () => {
  const { nativeUnixDatagram, UnixDatagramSender } = await import('../../native/unix-datagram.js');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const real: SyslogDeps = { ...noUnix, unixDatagram: nativeUnixDatagram };

  it('stores what a sendmmsg sender sends in batches, every message once, as from this host', async () => {
    const path = join(sockDir, 'real.sock');
    const { src, ctx } = await startSource({ unix: { path, mode: '0600' } }, real);
    expect(src.addresses.unix).toBe(path);
    // Non-blocking (the receiver runs on this thread): what the full queue refuses is sent again once it drained.
    const sender = UnixDatagramSender.open();
    try {
      let left = Array.from({ length: 1000 }, (_, i) => Buffer.from(line(i)));
      while (left.length > 0) {
        const r = sender.send(path, left.slice(0, 50));
        left = left.slice(r.sent);
        if (r.sent < 50) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      sender.close();
    }
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(1000));
    expect(new Set(records(ctx).map(text)).size).toBe(1000);
    expect(records(ctx).every((r) => r.HostIP === '127.0.0.1' && r.ProcessName === 'sshd')).toBe(true);
    await vi.waitFor(() => expect(metric(ctx, 'oma_syslog_received_messages_total', { transport: 'unix' })).toBe(1000));
  });

  it('stores what logger -u sends, parsed', async () => {
    const path = join(sockDir, 'logger.sock');
    const { ctx } = await startSource({ unix: { path } }, real);
    await promisify(execFile)('logger', ['-u', path, '-p', 'local2.warning', '-t', 'omatest', 'from logger']);
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(1));
    expect(records(ctx)[0]).toMatchObject({ SyslogMessage: 'from logger', ProcessName: 'omatest', Facility: 'local2', SeverityLevel: 'warning', HostIP: '127.0.0.1' });
  });
});

describe('malformed input', () => {
  /** A seeded xorshift generator: the same frames every run. */
  function rng(seed: number) {
    let x = seed;
    return (n: number) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
  }

  it('keeps running through 10,000 random and truncated frames over UDP and TCP, and delivers every well-formed one', async () => {
    const { src, ctx } = await startSource({ udp: { port: 0 }, tcp: { port: 0 }, maxMessageBytes: 2048 });
    const rand = rng(0x5eed);
    const wellFormed = (i: number) =>
      i % 2 === 0 ? `<14>Jun 15 10:00:00 host-${i} app[${i}]: wf#${i}#end` : `<14>1 2024-06-15T10:00:00Z host-${i} app ${i} - [m@1 k="v"] wf#${i}#end`;
    const noise = (): Buffer => {
      if (rand(2) === 0) {
        // A well-formed frame cut short.
        const f = Buffer.from(wellFormed(rand(1_000_000)));
        return f.subarray(0, rand(f.length));
      }
      const b = Buffer.allocUnsafe(rand(300));
      for (let k = 0; k < b.length; k++) b[k] = rand(256);
      return b;
    };
    const good = new Set<string>();
    let n = 0;
    let bad = 0;
    const udpPort = src.addresses.udp!.port;
    const octet = await tcpConnect(src.addresses.tcp!.port);
    const lines = await tcpConnect(src.addresses.tcp!.port);
    // A well-formed frame opens each connection: its first byte sets the connection's framing.
    for (const [c, f] of [
      [octet, (b: Buffer) => Buffer.concat([Buffer.from(`${b.length} `), b])],
      [lines, (b: Buffer) => Buffer.concat([b, Buffer.from('\n')])],
    ] as const) {
      good.add(`wf#${n}#end`);
      c.write(f(Buffer.from(wellFormed(n++))));
    }
    for (let round = 0; round < 67; round++) {
      const udpFrames: Buffer[] = [];
      let octetText: Buffer[] = [];
      const lineText: Buffer[] = [];
      for (let k = 0; k < 200; k++) {
        const isGood = k % 4 === 0;
        const f = isGood ? Buffer.from(wellFormed(n)) : noise();
        if (isGood) good.add(`wf#${n}#end`);
        else bad++;
        n++;
        switch (k % 3) {
          case 0:
            udpFrames.push(f);
            break;
          case 1:
            octetText.push(Buffer.from(`${f.length} `), f);
            break;
          default:
            // Noise may hold line feeds (more frames) but no well-formed frame is split by one.
            lineText.push(f, Buffer.from('\n'));
        }
      }
      await sendUdp(udpPort, udpFrames);
      octet.write(Buffer.concat(octetText));
      lines.write(Buffer.concat(lineText));
      octetText = [];
      // Paced, so that the kernel's UDP receive buffer never overflows in this test.
      const expected = n;
      await vi.waitFor(() => expect(metric(ctx, 'oma_syslog_received_messages_total', { transport: 'udp' })).toBeGreaterThanOrEqual(Math.ceil(expected / 3) - 1), { timeout: 10_000, interval: 5 });
    }
    await Promise.all([endAndClose(octet), endAndClose(lines)]);
    expect(bad).toBeGreaterThanOrEqual(10_000);
    await vi.waitFor(
      () => {
        const got = new Set(records(ctx).map((r) => text(r).replace('[m@1 k="v"] ', '')).filter((m) => good.has(m)));
        expect(got.size).toBe(good.size);
      },
      { timeout: 20_000 },
    );
    for (const r of records(ctx)) {
      const m = /^wf#(\d+)#end$/.exec(text(r).replace('[m@1 k="v"] ', ''));
      if (!m) continue;
      expect(r).toMatchObject({ HostName: `host-${m[1]}`, ProcessName: 'app', ProcessID: Number(m[1]) });
    }
    const received = metric(ctx, 'oma_syslog_received_messages_total');
    const stored = records(ctx).length;
    const dropped = metric(ctx, 'oma_component_discarded_records_total', { reason: 'empty' }) + metric(ctx, 'oma_component_discarded_records_total', { reason: 'binary' });
    // Every frame received was stored (parsed or as an unparsed row) or counted as a drop.
    expect(stored + dropped).toBe(received);
    expect(dropped).toBeGreaterThan(1000);
    expect(metric(ctx, 'oma_syslog_parsed_messages_total', { format: 'unparsed' })).toBeGreaterThan(1000);
    // Still running: a new message arrives.
    await sendUdp(udpPort, ['<14>Jun 15 10:00:00 h app: still alive']);
    await vi.waitFor(() => expect(records(ctx).some((r) => r.SyslogMessage === 'still alive')).toBe(true));
  }, 60_000);
});

describe('malformed input on the unix socket', () => {
  it('stores every well-formed datagram among 10,000 random and truncated ones, and counts the rest', async () => {
    const u = fakeUnix();
    const { ctx } = await startSource({ unix: { path: u.path } }, u.deps);
    let x = 0x1234567;
    const rand = (n: number): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const good = new Set<string>();
    let bad = 0;
    let n = 0;
    while (bad < 10_000) {
      const batch: Buffer[] = [];
      for (let k = 0; k < 256; k++, n++) {
        const wf = Buffer.from(`<30>Jun  5 08:00:00 app[${n}]: uwf#${n}#end`);
        if (k % 5 === 0) {
          good.add(`uwf#${n}#end`);
          batch.push(wf);
        } else if (k % 2 === 0) {
          bad++;
          batch.push(wf.subarray(0, rand(wf.length)));
        } else {
          bad++;
          const b = Buffer.allocUnsafe(rand(200));
          for (let i = 0; i < b.length; i++) b[i] = rand(256);
          batch.push(b);
        }
      }
      u.send(batch);
    }
    await vi.waitFor(() => {
      const got = records(ctx).filter((r) => good.has(text(r)));
      expect(got).toHaveLength(good.size);
    });
    const dropped = metric(ctx, 'oma_component_discarded_records_total', { reason: 'empty' }) + metric(ctx, 'oma_component_discarded_records_total', { reason: 'binary' });
    expect(records(ctx).length + dropped).toBe(n);
    expect(metric(ctx, 'oma_syslog_received_messages_total', { transport: 'unix' })).toBe(n);
  });
});

describe('syslog definition', () => {
  it('maps a DCR syslog data source to facilities and levels', () => {
    const def = syslogSource(noUnix);
    const entry = { name: 'base', streams: ['Microsoft-Syslog'], facilityNames: ['auth', 'CRON'], logLevels: ['*'] };
    const m = mapDcrToSources({ properties: { dataSources: { syslog: [entry] } } }, new ComponentRegistry([def]));
    const problems = m.report.filter((r) => r.severity === 'error').map((r) => `${r.path}: ${r.message}`);
    const { type: _t, ...set } = m.sources['dcr-base'] ?? { type: '' };
    expect(problems).toEqual([]);
    expect(set).toMatchObject({ facilities: ['auth', 'cron'], levels: ['*'] });
    expect(def.dcr).toMatchObject({ kind: 'syslog', streams: ['Microsoft-Syslog'], unsupported: { 'Microsoft-CommonSecurityLog': expect.any(String) } });
  });

  it('needs a transport', () => {
    expect(syslogConfigSchema.safeParse({}).success).toBe(false);
    expect(syslogConfigSchema.parse({ udp: {} }).udp).toEqual({ host: '127.0.0.1', port: 25224, receiveBufferBytes: 4 * 1024 * 1024 });
    expect(syslogConfigSchema.parse({ tcp: {} }).tcp).toMatchObject({ host: '127.0.0.1', port: 28330 });
  });
});

describe('shared listeners', () => {
  /** Starts a source on `listeners`, kept running until the test ends (or stopped by it). */
  async function startShared(listeners: SyslogListeners, options: Record<string, unknown>, deps: SyslogDeps = noUnix, ctx = testSourceContext({ type: 'syslog' })) {
    return startSource(options, { ...deps, listeners }, ctx);
  }

  async function stopSource(src: SyslogSource): Promise<void> {
    running.splice(running.indexOf(src), 1);
    await src.stop(AbortSignal.timeout(5000));
  }

  async function sendTcp(port: number, lines: string[]): Promise<void> {
    const c = await tcpConnect(port);
    c.write(lines.map((l) => `${l}\n`).join(''));
    await endAndClose(c);
  }

  it('listens once for two sources on one UDP port; each applies its own filter, a message both collect is stored twice', async () => {
    const listeners = new SyslogListeners();
    const a = await startShared(listeners, { udp: { port: 0 }, facilities: ['auth'], levels: ['*'] });
    const port = a.src.addresses.udp!.port;
    const b = await startShared(listeners, { udp: { port }, levels: ['Warning', 'Error', 'Critical', 'Alert', 'Emergency'] });
    expect(b.src.addresses.udp!.port).toBe(port);
    expect(listeners.size).toBe(1);
    await sendUdp(port, [
      '<38>Jun 15 10:00:00 h sshd: auth info', // auth.info: a only
      '<36>Jun 15 10:00:01 h sshd: auth warning', // auth.warning: both
      '<11>Jun 15 10:00:02 h app: user error', // user.err: b only
      '<14>Jun 15 10:00:03 h app: user info', // user.info: neither
    ]);
    await vi.waitFor(() => {
      expect(records(a.ctx).map(text).sort()).toEqual(['auth info', 'auth warning']);
      expect(records(b.ctx).map(text).sort()).toEqual(['auth warning', 'user error']);
    });
    expect(records(b.ctx)[0]).toMatchObject({ HostIP: '127.0.0.1' });
    await vi.waitFor(() => {
      for (const ctx of [a.ctx, b.ctx]) {
        expect(metric(ctx, 'oma_syslog_received_messages_total', { transport: 'udp' })).toBe(4);
        expect(metric(ctx, 'oma_syslog_filtered_messages_total')).toBe(2);
      }
    });
  });

  it('keeps a shared TCP listener for the source that stays when another stops, and takes a restarted source back', async () => {
    const listeners = new SyslogListeners();
    const a = await startShared(listeners, { tcp: { port: 0 } });
    const port = a.src.addresses.tcp!.port;
    const b = await startShared(listeners, { tcp: { port } });
    expect(listeners.size).toBe(1);
    await sendTcp(port, [line(1)]);
    await vi.waitFor(() => expect([records(a.ctx).length, records(b.ctx).length]).toEqual([1, 1]));

    // A connection open across the stop: the source that stays still reads it; the one that left has none open.
    const open = await tcpConnect(port);
    await vi.waitFor(() => expect([metric(a.ctx, 'oma_syslog_open_connections'), metric(b.ctx, 'oma_syslog_open_connections')]).toEqual([1, 1]));
    await stopSource(a.src);
    expect(listeners.size).toBe(1);
    expect(metric(a.ctx, 'oma_syslog_open_connections')).toBe(0);
    expect(metric(b.ctx, 'oma_syslog_open_connections')).toBe(1);
    await endAndClose(open);
    await sendTcp(port, [line(2)]);
    await vi.waitFor(() => expect(records(b.ctx).map(text)).toEqual(['message 1', 'message 2']));
    expect(records(a.ctx)).toHaveLength(1);

    // The restart of a source: a new instance with the same config subscribes again.
    const again = await startShared(listeners, { tcp: { port } });
    await sendTcp(port, [line(3)]);
    await vi.waitFor(() => expect(records(again.ctx).map(text)).toEqual(['message 3']));
    await vi.waitFor(() => expect(records(b.ctx)).toHaveLength(3));

    await stopSource(b.src);
    await stopSource(again.src);
    expect(listeners.size).toBe(0);
    await expect(tcpConnect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('pauses a shared socket while any of its sources holds batches, and resumes when none does', async () => {
    const u = fakeUnix();
    const listeners = new SyslogListeners();
    const ctxA = testSourceContext({ type: 'syslog' });
    const ctxB = testSourceContext({ type: 'syslog' });
    const small = { unix: { path: u.path }, maxBatchRecords: 1, maxEmitsInFlight: 1 };
    await startShared(listeners, small, u.deps, ctxA);
    await startShared(listeners, small, u.deps, ctxB);
    expect(u.binding.opened).toHaveLength(1);
    const socket = u.binding.socket(u.path)!;
    ctxA.hold();
    ctxB.hold();
    u.send([line(1), line(2)]);
    await vi.waitFor(() => expect(socket.isPaused).toBe(true));
    // B lets go, A still holds: the socket stays paused.
    ctxB.release();
    await vi.waitFor(() => expect(records(ctxB)).toHaveLength(2));
    expect(socket.isPaused).toBe(true);
    u.send([line(3)]);
    ctxA.release();
    await vi.waitFor(() => expect(records(ctxA)).toHaveLength(3));
    await vi.waitFor(() => expect(records(ctxB)).toHaveLength(3));
    expect(socket.isPaused).toBe(false);
  });

  it('restarts every source on a shared socket that fails, and opens a new socket for them', async () => {
    const u = fakeUnix();
    const listeners = new SyslogListeners();
    const a = await startShared(listeners, { unix: { path: u.path } }, u.deps);
    const b = await startShared(listeners, { unix: { path: u.path } }, u.deps);
    u.binding.socket(u.path)!.fail(new Error('socket broke'));
    expect(a.ctx.failures).toHaveLength(1);
    expect(b.ctx.failures).toHaveLength(1);
    expect(listeners.size).toBe(0);
    // The pipeline restarts them: stop, then a new instance each.
    await stopSource(a.src);
    await stopSource(b.src);
    const a2 = await startShared(listeners, { unix: { path: u.path } }, u.deps);
    await startShared(listeners, { unix: { path: u.path } }, u.deps);
    expect(u.binding.opened).toHaveLength(2);
    u.send([line(7)]);
    await vi.waitFor(() => expect(records(a2.ctx).map(text)).toEqual(['message 7']));
  });
});

describe('syslog source over UDP through the platform binding', () => {
  it("receives batches with each sender's address as HostIP, and counts the kernel's drops", async () => {
    const udp = new FakeUdpDatagramBinding();
    const { src, ctx } = await startSource({ udp: { port: 0 }, maxMessageBytes: 480 }, { ...noUnix, udpDatagram: () => udp });
    const port = src.addresses.udp!.port;
    expect(udp.opened[0]).toMatchObject({ host: '127.0.0.1', port: 0, maxDatagramBytes: 480 });
    udp.send(port, [Buffer.from('<13>Jun 15 10:00:00 remote: from afar')], { address: '192.0.2.7', port: 514 });
    udp.send(port, [Buffer.from('<13>1 2024-06-15T10:00:00Z - app - - - from v6')], { address: '2001:db8::7', port: 514 });
    udp.send(port, [Buffer.from(`<13>Jun 15 10:00:00 h app: ${'y'.repeat(600)}`)]);
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(3));
    const byMsg = new Map(records(ctx).map((r) => [text(r).slice(0, 10), r]));
    expect(byMsg.get('from afar')).toMatchObject({ HostIP: '192.0.2.7', HostName: '192.0.2.7' });
    expect(byMsg.get('from v6')).toMatchObject({ HostIP: '2001:db8::7', HostName: '2001:db8::7' });
    await vi.waitFor(() => expect(metric(ctx, 'oma_component_discarded_records_total', { reason: 'message_truncated' })).toBe(1));
    // The kernel drops what overflows a receive buffer that is not read: counted with the next read.
    const socket = udp.socket(port)!;
    socket.pause();
    udp.send(port, Array.from({ length: 1030 }, (_, i) => Buffer.from(line(i))));
    socket.resume();
    await vi.waitFor(() => expect(metric(ctx, 'oma_syslog_kernel_drops_total')).toBe(6));
    socket.fail(new Error('socket broke'));
    expect(ctx.failures).toHaveLength(1);
  });

  it('stops reading while batches wait for the queue, so that a burst waits in the receive buffer instead of being dropped', { timeout: 20_000 }, async () => {
    const udp = new FakeUdpDatagramBinding({ queueDatagrams: 10_000 });
    const ctx = testSourceContext({ type: 'syslog' });
    const { src } = await startSource({ udp: { port: 0 }, maxBatchRecords: 100, maxEmitsInFlight: 1, maxQueuedBatches: 1 }, { ...noUnix, udpDatagram: () => udp }, ctx);
    const port = src.addresses.udp!.port;
    const socket = udp.socket(port)!;
    ctx.hold();
    udp.send(port, Array.from({ length: 2000 }, (_, i) => Buffer.from(line(i))));
    await vi.waitFor(() => expect(socket.isPaused).toBe(true));
    udp.send(port, Array.from({ length: 1000 }, (_, i) => Buffer.from(line(2000 + i))));
    ctx.release();
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(3000), { timeout: 10_000 });
    expect(new Set(records(ctx).map(text)).size).toBe(3000);
    expect(metric(ctx, 'oma_component_discarded_records_total', { reason: 'queue_full' })).toBe(0);
    expect(metric(ctx, 'oma_syslog_kernel_drops_total')).toBe(0);
  });

  it('falls back to node:dgram when the addon cannot be loaded, with one warning for all sources', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (l: string) => logs.push(JSON.parse(l) as Record<string, unknown>) });
    const missing: SyslogDeps = {
      ...noUnix,
      udpDatagram: () => ({ open: () => Promise.reject(new AgentError('OMA_ERR_NATIVE_LOAD', 'native addon unixdgram is not built')) }),
      listeners: new SyslogListeners(),
    };
    const a = await startSource({ udp: { port: 0 } }, missing, testSourceContext({ type: 'syslog', log }));
    const b = await startSource({ udp: { port: 0 } }, missing, testSourceContext({ type: 'syslog', log }));
    await sendUdp(a.src.addresses.udp!.port, [line(1)]);
    await sendUdp(b.src.addresses.udp!.port, [line(2)]);
    await vi.waitFor(() => expect([records(a.ctx).length, records(b.ctx).length]).toEqual([1, 1]));
    expect(records(a.ctx)[0]).toMatchObject({ HostIP: '127.0.0.1' });
    expect(logs.filter((l) => l.msg === 'syslog UDP receives through node:dgram: the unixdgram addon is not available')).toHaveLength(1);
  });
});

describe('syslog sources made from a DCR', () => {
  it('listen on the default transports, the same for every syslog data source of the rule', () => {
    const def = syslogSource(noUnix);
    const rule = {
      properties: {
        dataSources: {
          syslog: [
            { name: 'auth', streams: ['Microsoft-Syslog'], facilityNames: ['auth', 'authpriv'], logLevels: ['Debug', 'Info', 'Notice', 'Warning', 'Error', 'Critical', 'Alert', 'Emergency'] },
            { name: 'rest', streams: ['Microsoft-Syslog'], facilityNames: ['*'], logLevels: ['Warning', 'Error', 'Critical', 'Alert', 'Emergency'] },
          ],
        },
      },
    };
    const m = mapDcrToSources(rule, new ComponentRegistry([def]));
    expect(m.report.filter((r) => r.severity === 'error')).toEqual([]);
    const configs = ['dcr-auth', 'dcr-rest'].map((id) => {
      const { type: _t, ...set } = m.sources[id] ?? { type: '' };
      return syslogConfigSchema.parse(set);
    });
    for (const c of configs) {
      expect(c.udp).toMatchObject({ host: '127.0.0.1', port: 25224 });
      expect(c.tcp).toMatchObject({ host: '127.0.0.1', port: 28330 });
      expect(c.unix).toMatchObject({ path: '/run/oma/syslog.sock', mode: 0o666 });
    }
    expect(configs[0]!.facilities).toEqual(['auth', 'authpriv']);
    expect(configs[1]!.levels).toEqual(['Warning', 'Error', 'Critical', 'Alert', 'Emergency']);
  });
});
