import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import {
  ComponentRegistry,
  mapDcrToSources,
  SYSLOG,
  validateRecord,
  type DatagramBatch,
  type LogRecord,
  type UnixDatagramBinding,
  type UnixDatagramOptions,
  type UnixDatagramSocket,
} from '@oma/core';
import { testSourceContext, type TestSourceContext } from '@oma/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { syslogConfigSchema } from './config.js';
import { syslogSource } from './index.js';
import { SyslogSource, type SyslogDeps } from './syslog.js';

const noUnix: SyslogDeps = {
  unixDatagram: () => {
    throw new Error('no unix binding in this test');
  },
};

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

/** A binding whose socket the test feeds, batch by batch, like the native one delivers them. */
function stubBinding() {
  const state = {
    opened: undefined as UnixDatagramOptions | undefined,
    onBatch: undefined as ((b: DatagramBatch) => void) | undefined,
    paused: false,
    pauses: 0,
    drops: 0,
    closed: false,
  };
  const socket: UnixDatagramSocket = {
    path: '/run/test/syslog.sock',
    start(onBatch) {
      state.onBatch = onBatch;
    },
    pause() {
      state.paused = true;
      state.pauses++;
    },
    resume() {
      state.paused = false;
    },
    kernelDrops: () => state.drops,
    close() {
      state.closed = true;
      return Promise.resolve();
    },
  };
  const binding: UnixDatagramBinding = {
    open(opts) {
      state.opened = opts;
      return Promise.resolve(socket);
    },
  };
  const push = (frames: Array<string | Buffer>, truncated: number[] = []): void => {
    const data = Buffer.concat(frames.map((f) => (typeof f === 'string' ? Buffer.from(f) : f)));
    const offsets = new Uint32Array(frames.length);
    const lengths = new Uint32Array(frames.length);
    let off = 0;
    frames.forEach((f, i) => {
      offsets[i] = off;
      lengths[i] = typeof f === 'string' ? Buffer.byteLength(f) : f.length;
      off += lengths[i];
    });
    const t = new Uint8Array(frames.length);
    for (const i of truncated) t[i] = 1;
    state.onBatch!({ count: frames.length, data, offsets, lengths, truncated: t });
  };
  return { binding, state, push };
}


describe('syslog source on a unix datagram socket', () => {
  it('opens the socket with its options and stores what it drains, from this host', async () => {
    const stub = stubBinding();
    const { ctx } = await startSource({ unix: { path: '/run/test/syslog.sock', mode: '0660', group: 'adm' } }, { unixDatagram: () => stub.binding });
    expect(stub.state.opened).toMatchObject({ path: '/run/test/syslog.sock', mode: 0o660, group: 'adm', maxDatagramBytes: 64 * 1024 });
    stub.state.drops = 3;
    stub.push(['<30>Jun  5 08:00:00 systemd[1]: Started.', '<13>Jun  5 08:00:01 logger: hi'], [1]);
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(2));
    expect(records(ctx)[0]).toMatchObject({ HostName: 'test-host', HostIP: '127.0.0.1', ProcessName: 'systemd', ProcessID: 1, SyslogMessage: 'Started.' });
    await vi.waitFor(() => {
      expect(metric(ctx, 'oma_syslog_kernel_drops_total')).toBe(3);
      expect(metric(ctx, 'oma_component_discarded_records_total', { reason: 'message_truncated' })).toBe(1);
      expect(metric(ctx, 'oma_syslog_received_messages_total', { transport: 'unix' })).toBe(2);
    });
  });

  it('pauses the socket while batches wait for the queue, and resumes when they are taken', async () => {
    const stub = stubBinding();
    const ctx = testSourceContext({ type: 'syslog' });
    await startSource({ unix: { path: '/run/test/syslog.sock' }, maxBatchRecords: 2, maxEmitsInFlight: 1 }, { unixDatagram: () => stub.binding }, ctx);
    ctx.hold();
    stub.push([line(1), line(2)]); // in flight (held)
    expect(stub.state.paused).toBe(false);
    stub.push([line(3), line(4)]); // waits: the socket is paused
    expect(stub.state.paused).toBe(true);
    ctx.release();
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(4));
    expect(stub.state.paused).toBe(false);
  });

  it('reports a platform without the binding when the unix transport is configured', async () => {
    const src = new SyslogSource(syslogConfigSchema.parse({ unix: { path: '/run/x.sock' }, tcp: { port: 0 } }), testSourceContext(), noUnix);
    await expect(src.start()).rejects.toThrow(/no unix binding/);
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
    const stub = stubBinding();
    const { ctx } = await startSource({ unix: { path: '/run/test/syslog.sock' } }, { unixDatagram: () => stub.binding });
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
      stub.push(batch);
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
