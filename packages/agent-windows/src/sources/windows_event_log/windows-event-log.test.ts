import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { AgentError, ComponentRegistry, EVENT, WIN32_ERROR, WINDOWS_EVENT, mapDcrToSources, validateRecord, type EventLogBinding, type LogRecord } from '@oma/core';
import { FakeClock, FakeEventLog, MemoryCheckpointStore, eventLogTestXml, testSourceContext, type EventLogTestEventSpec, type TestSourceContext } from '@oma/core/testing';
import { windowsEventLogConfigSchema } from './config.js';
import { createPlatform } from '../../platform.js';
import { windowsEventLogSource } from './index.js';
import type { SidResolver } from './map.js';
import { CHANNEL_RETRY_MS, READ_RETRY_MS, WindowsEventLogSource } from './windows-event-log.js';

const sample = (name: string): string => readFileSync(new URL(`./testdata/${name}.xml`, import.meta.url), 'utf8').trim();

/** `n` simple events of `channel` with EventIDs from+0 … from+n-1. */
function events(channel: string, n: number, from = 0, over: Partial<EventLogTestEventSpec> = {}): string[] {
  return Array.from({ length: n }, (_, k) => eventLogTestXml(channel, { provider: 'OMA-Test', eventId: from + k, level: 4, data: [`d${from + k}`], ...over }));
}

class Harness {
  readonly fake = new FakeEventLog();
  readonly store = new MemoryCheckpointStore();
  readonly clock = new FakeClock();
  readonly logs: Array<Record<string, unknown>> = [];
  ctx: TestSourceContext;
  source: WindowsEventLogSource | undefined;

  constructor() {
    this.ctx = this.newContext();
  }

  newContext(): TestSourceContext {
    const log = pino({ level: 'debug' }, { write: (line: string) => this.logs.push(JSON.parse(line) as Record<string, unknown>) });
    return testSourceContext({ id: 'evt', type: 'windows_event_log', checkpoints: this.store, log, clock: this.clock });
  }

  async start(over: Record<string, unknown>, opts: { binding?: () => EventLogBinding; resolveSid?: SidResolver } = {}): Promise<WindowsEventLogSource> {
    const config = windowsEventLogConfigSchema.parse({ startAt: 'oldest', ...over });
    this.source = new WindowsEventLogSource(config, this.ctx, opts.binding ?? (() => this.fake), opts.resolveSid ? { resolveSid: opts.resolveSid } : {});
    await this.source.start();
    return this.source;
  }

  /** Stops the source; a new context for the next start (same checkpoint store). */
  async restart(over: Record<string, unknown>): Promise<void> {
    await this.stop();
    this.ctx = this.newContext();
    await this.start(over);
  }

  async stop(deadlineMs = 5000): Promise<void> {
    await this.source?.stop(AbortSignal.timeout(deadlineMs));
    this.source = undefined;
  }

  records(): LogRecord[] {
    return this.ctx.emitted.flatMap((b) => b.records);
  }

  ids(channel?: string): number[] {
    return this.records()
      .filter((r) => channel === undefined || r.EventLog === channel)
      .map((r) => r.EventID as number);
  }

  async saved(): Promise<Record<string, string> | undefined> {
    return (await this.store.load()).state.bookmarks as Record<string, string> | undefined;
  }

  errors(stage: string, errorType = 'OMA_ERR_NATIVE'): number {
    return this.ctx.metrics.errors.get({ ...this.ctx.labels, error_type: errorType, stage });
  }

  logged(msg: string): Array<Record<string, unknown>> {
    return this.logs.filter((l) => l.msg === msg);
  }
}

const bookmarkOf = (channel: string, id: number) => new RegExp(`Channel='${channel}' RecordId='${id}'`);

describe('windows_event_log source', () => {
  it('reads real rendered events of several channels into Event records, XPaths of a channel merged into one subscription', async () => {
    const h = new Harness();
    h.fake.append('System', [sample('system-7036'), sample('system-41-critical'), sample('system-104-userdata')]);
    h.fake.append('Application', [{ xml: sample('application-1000'), message: 'Faulting application name: notepad.exe' }, sample('application-4101-nodata')]);
    h.fake.append('Microsoft-Windows-Sysmon/Operational', [sample('sysmon-1')]);
    await h.start({
      xPathQueries: [
        'System!*[System[(Level=1 or Level=2)]]',
        'System!*[System[(EventID=7036)]]',
        'Application!*[System[(Level=2)]]',
        'Microsoft-Windows-Sysmon/Operational!*',
      ],
    });
    await vi.waitFor(() => expect(h.records()).toHaveLength(4));
    await h.stop();
    expect(h.fake.subscribed.map((s) => [s.channel, s.query])).toEqual([
      [
        'System',
        '<QueryList><Query Id="0" Path="System"><Select Path="System">*[System[(Level=1 or Level=2)]]</Select><Select Path="System">*[System[(EventID=7036)]]</Select></Query></QueryList>',
      ],
      ['Application', '*[System[(Level=2)]]'],
      ['Microsoft-Windows-Sysmon/Operational', '*'],
    ]);
    expect(h.ids('System')).toEqual([7036, 41]);
    expect(h.ids('Application')).toEqual([1000]);
    expect(h.ids('Microsoft-Windows-Sysmon/Operational')).toEqual([1]);
    for (const r of h.records()) expect(validateRecord(EVENT, r)).toEqual([]);
    expect(h.records().find((r) => r.EventID === 1000)).toMatchObject({ RenderedDescription: 'Faulting application name: notepad.exe', EventLevelName: 'Error' });
    expect(h.ctx.emitted.every((b) => b.table === 'Event')).toBe(true);
    expect(h.fake.openSubscriptions()).toBe(0);
  });

  it('resumes after its saved bookmarks across a restart: no gap, no duplicate', async () => {
    const h = new Harness();
    h.fake.append('Application', events('Application', 25));
    await h.start({ channels: [{ name: 'Application' }], batchSize: 10 });
    await vi.waitFor(async () => expect((await h.saved())?.application).toMatch(bookmarkOf('Application', 25)));
    expect(h.ctx.emitted.map((b) => b.records.length)).toEqual([10, 10, 5]);
    const first = h.ids();
    h.fake.append('Application', events('Application', 5, 25));
    // startAt future on restart: the saved bookmark wins.
    await h.restart({ channels: [{ name: 'Application' }], batchSize: 10, startAt: 'future' });
    await vi.waitFor(() => expect(h.ids()).toHaveLength(5));
    h.fake.append('Application', events('Application', 2, 30));
    await vi.waitFor(() => expect(h.ids()).toHaveLength(7));
    await h.stop();
    expect([...first, ...h.ids()]).toEqual(Array.from({ length: 32 }, (_, i) => i));
  });

  it('keeps the bookmarks of the channels it reads only', async () => {
    const h = new Harness();
    h.fake.append('Application', events('Application', 2));
    h.fake.append('System', events('System', 2));
    await h.start({ channels: [{ name: 'Application' }, { name: 'System' }] });
    await vi.waitFor(async () => expect(Object.keys((await h.saved()) ?? {}).sort()).toEqual(['application', 'system']));
    await h.restart({ channels: [{ name: 'System' }] });
    h.fake.append('System', events('System', 1, 2));
    await vi.waitFor(async () => expect(await h.saved()).toEqual({ system: expect.stringMatching(bookmarkOf('System', 3)) as unknown }));
    await h.stop();
  });

  it('starts at new events without a bookmark by default (as MMA did), at the oldest when asked', async () => {
    const h = new Harness();
    h.fake.append('Application', events('Application', 3));
    await h.start({ channels: [{ name: 'Application' }], startAt: undefined });
    await vi.waitFor(() => expect(h.fake.openSubscriptions('Application')).toBe(1));
    h.fake.append('Application', events('Application', 1, 3));
    await vi.waitFor(() => expect(h.ids()).toEqual([3]));
    await h.stop();
    expect(h.fake.subscribed[0]).toMatchObject({ start: 'future', renderMessages: true, batchSize: 500 });
  });

  it('saves a bookmark only once the pipeline queued the batch; a rejected emit does not move it', async () => {
    const h = new Harness();
    h.fake.append('System', events('System', 3));
    h.ctx.hold();
    await h.start({ channels: [{ name: 'System' }] });
    await vi.waitFor(() => expect(h.fake.nextCalls).toBeGreaterThan(0));
    await new Promise((r) => setImmediate(r));
    expect(await h.saved()).toBeUndefined();
    h.ctx.release();
    await vi.waitFor(async () => expect((await h.saved())?.system).toMatch(bookmarkOf('System', 3)));

    // The queue rejects the next batch: retried, and the bookmark stays until it is queued.
    h.ctx.failWith(new AgentError('OMA_ERR_BUFFER_NO_SPACE', 'full'));
    h.fake.append('System', events('System', 2, 3));
    await vi.waitFor(() => expect(h.errors('emit', 'OMA_ERR_BUFFER_NO_SPACE')).toBe(1));
    expect((await h.saved())?.system).toMatch(bookmarkOf('System', 3));
    // Stopped while the batch is still refused: its events are read again by the next start.
    await h.stop(50);
    expect((await h.saved())?.system).toMatch(bookmarkOf('System', 3));
    h.ctx = h.newContext();
    await h.start({ channels: [{ name: 'System' }] });
    await vi.waitFor(() => expect(h.ids()).toEqual([3, 4]));
    await vi.waitFor(async () => expect((await h.saved())?.system).toMatch(bookmarkOf('System', 5)));
    await h.stop();
    expect(h.logged('batch not queued; retrying')).toHaveLength(1);
  });

  it('a bookmark of a cleared channel: warns once and reads the channel from its oldest event', async () => {
    const h = new Harness();
    h.fake.append('Application', events('Application', 4));
    await h.start({ channels: [{ name: 'Application' }] });
    await vi.waitFor(async () => expect((await h.saved())?.application).toMatch(bookmarkOf('Application', 4)));
    await h.stop();
    h.fake.clear('Application');
    h.fake.append('Application', events('Application', 2, 100));
    h.ctx = h.newContext();
    await h.start({ channels: [{ name: 'Application' }], startAt: 'future' });
    await vi.waitFor(() => expect(h.ids()).toEqual([100, 101]));
    await h.stop();
    const warned = h.logged('event log bookmark not found (channel cleared or wrapped); reading the channel from its oldest event');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, channel: 'Application' });
    expect(h.errors('bookmark')).toBe(1);
    expect(h.fake.subscribed.slice(-2).map((s) => [s.bookmark !== undefined, s.start])).toEqual([
      [true, 'future'],
      [false, 'oldest'],
    ]);
  });

  it('a missing channel is logged once with the reason and retried every minute; the other channels run', async () => {
    const h = new Harness();
    const SYSMON = 'Microsoft-Windows-Sysmon/Operational';
    h.fake.append('Application', events('Application', 2));
    await h.start({ channels: [{ name: 'Application' }, { name: SYSMON }] });
    await vi.waitFor(() => expect(h.ids('Application')).toEqual([0, 1]));
    const unavailable = () => h.logged('event log channel unavailable; retrying');
    expect(unavailable()).toHaveLength(1);
    expect(unavailable()[0]).toMatchObject({ level: 40, channel: SYSMON, reason: 'channel not found', retryMs: CHANNEL_RETRY_MS });
    // Retried each minute, logged once.
    await h.clock.advance(CHANNEL_RETRY_MS);
    await vi.waitFor(() => expect(h.fake.subscribed.filter((s) => s.channel === SYSMON)).toHaveLength(2));
    expect(unavailable()).toHaveLength(1);
    expect(h.errors('subscribe')).toBe(2);
    // Sysmon installed: read at the next retry, from its oldest event.
    h.fake.append(SYSMON, [sample('sysmon-1')]);
    await h.clock.advance(CHANNEL_RETRY_MS - 1);
    expect(h.ids(SYSMON)).toEqual([]);
    await h.clock.advance(1);
    await vi.waitFor(() => expect(h.ids(SYSMON)).toEqual([1]));
    expect(h.logged('event log channel readable again')).toHaveLength(1);
    h.fake.append('Application', events('Application', 1, 2));
    await vi.waitFor(() => expect(h.ids('Application')).toEqual([0, 1, 2]));
    await h.stop();
    expect(h.ctx.failures).toEqual([]);
  });

  it('Security without the right: access denied, logged with the reason, read once the right is given', async () => {
    const h = new Harness();
    h.fake.append('Security', [sample('security-4624'), sample('security-4625')]);
    h.fake.denyAccess('Security');
    h.fake.append('System', events('System', 1));
    await h.start({ xPathQueries: ['Security!*[System[(EventID=4624 or EventID=4625)]]', 'System!*'] });
    await vi.waitFor(() => expect(h.ids('System')).toEqual([0]));
    expect(h.logged('event log channel unavailable; retrying')[0]).toMatchObject({ channel: 'Security', reason: expect.stringMatching(/^access denied/) as unknown });
    expect(h.errors('subscribe')).toBe(1);
    h.fake.denyAccess('Security', false);
    await h.clock.advance(CHANNEL_RETRY_MS);
    await vi.waitFor(() => expect(h.ids('Security')).toEqual([4624, 4625]));
    await h.stop();
  });

  it('a failed read resubscribes from the channel bookmark: no gap, no duplicate', async () => {
    const h = new Harness();
    h.fake.append('System', events('System', 3));
    await h.start({ channels: [{ name: 'System' }], batchSize: 2 });
    await vi.waitFor(async () => expect((await h.saved())?.system).toMatch(bookmarkOf('System', 3)));
    h.fake.failNextRead('System', WIN32_ERROR.EVT_QUERY_RESULT_STALE);
    h.fake.append('System', events('System', 3, 3));
    await vi.waitFor(() => expect(h.errors('read')).toBe(1));
    expect(h.logged('event log channel read failed; resubscribing from its bookmark')[0]).toMatchObject({ channel: 'System' });
    await h.clock.advance(READ_RETRY_MS);
    await vi.waitFor(() => expect(h.ids()).toEqual([0, 1, 2, 3, 4, 5]));
    await h.stop();
    expect(h.fake.subscribed).toHaveLength(2);
    expect(h.fake.subscribed[1]!.bookmark).toMatch(bookmarkOf('System', 3));
  });

  it('reads the levels and event ids asked for (MMA-style channels)', async () => {
    const h = new Harness();
    h.fake.append('System', [
      ...events('System', 1, 10, { level: 1 }),
      ...events('System', 1, 20, { level: 2 }),
      ...events('System', 1, 30, { level: 3 }),
      ...events('System', 1, 40, { level: 4 }),
      ...events('System', 1, 50, { level: 0 }),
      ...events('System', 1, 60, { level: 5 }),
    ]);
    h.fake.append('Application', [...events('Application', 1, 7036, { level: 4 }), ...events('Application', 1, 7040, { level: 4 })]);
    await h.start({ channels: [{ name: 'System', levels: ['Critical', 'Error', 'Information'] }, { name: 'Application', eventIds: [7036] }] });
    await vi.waitFor(() => expect(h.records()).toHaveLength(5));
    await h.stop();
    expect(h.ids('System')).toEqual([10, 20, 40, 50]);
    expect(h.ids('Application')).toEqual([7036]);
    expect(h.records().map((r) => r.EventLevelName)).toContain('Error');
  });

  it('writes WindowsEvent records when asked, and skips message rendering when renderMessages is off', async () => {
    const h = new Harness();
    h.fake.append('Microsoft-Windows-Sysmon/Operational', [{ xml: sample('sysmon-1'), message: 'Process Create' }]);
    await h.start({ xPathQueries: ['Microsoft-Windows-Sysmon/Operational!*'], table: 'WindowsEvent', renderMessages: false });
    await vi.waitFor(() => expect(h.records()).toHaveLength(1));
    await h.stop();
    expect(h.ctx.emitted[0]!.table).toBe('WindowsEvent');
    expect(validateRecord(WINDOWS_EVENT, h.records()[0]!)).toEqual([]);
    expect(h.records()[0]).toMatchObject({ Channel: 'Microsoft-Windows-Sysmon/Operational', EventID: 1, SystemUserId: 'S-1-5-18' });
    expect(h.fake.subscribed[0]!.renderMessages).toBe(false);
  });

  it('resolves UserName through the SID resolver, once per SID', async () => {
    const h = new Harness();
    h.fake.append('System', [sample('system-41-critical'), sample('system-41-critical'), sample('system-104-userdata')]);
    const calls: string[] = [];
    const resolveSid = (sid: string) => {
      calls.push(sid);
      return sid === 'S-1-5-18' ? 'NT AUTHORITY\\SYSTEM' : undefined;
    };
    await h.start({ channels: [{ name: 'System' }] }, { resolveSid });
    await vi.waitFor(() => expect(h.records()).toHaveLength(3));
    await h.stop();
    expect(h.records().map((r) => r.UserName)).toEqual(['NT AUTHORITY\\SYSTEM', 'NT AUTHORITY\\SYSTEM', 'S-1-5-21-3623811015-3361044348-30300820-500']);
    expect(calls).toEqual(['S-1-5-18', 'S-1-5-21-3623811015-3361044348-30300820-500']);
  });

  it('without the Event Log binding: says why once and stays idle without failing', async () => {
    const h = new Harness();
    await h.start(
      { channels: [{ name: 'System' }] },
      {
        binding: () => {
          throw new AgentError('OMA_ERR_NATIVE_LOAD', 'the Event Log binding is not built in');
        },
      },
    );
    await h.stop();
    expect(h.logged('event log unavailable on this host; windows_event_log source idle')).toHaveLength(1);
    expect(h.ctx.failures).toEqual([]);
    // A binding that loads wevtapi.dll at its first subscription: the same, said once for all channels.
    const lazy = new Harness();
    lazy.fake.subscribeError = new AgentError('OMA_ERR_NATIVE_LOAD', 'wevtapi.dll not found');
    await lazy.start({ channels: [{ name: 'System' }, { name: 'Application' }] });
    await vi.waitFor(() => expect(lazy.fake.subscribed).toHaveLength(2));
    await lazy.stop();
    expect(lazy.logged('event log unavailable on this host; windows_event_log source idle')).toHaveLength(1);
    expect(lazy.ctx.failures).toEqual([]);
  });

  it('a damaged checkpoint is reported and the channels start per startAt', async () => {
    const h = new Harness();
    await h.store.save({ bookmarks: { system: 42 } });
    h.fake.append('System', events('System', 2));
    await h.start({ channels: [{ name: 'System' }] });
    await vi.waitFor(() => expect(h.ids()).toEqual([0, 1]));
    await h.stop();
    expect(h.logged('event log checkpoint damaged')).toHaveLength(1);
  });
});

describe('windows_event_log config and DCR mapping', () => {
  it('validates xPathQueries and channels', () => {
    const issues = (c: unknown) => {
      const r = windowsEventLogConfigSchema.safeParse(c);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues({})).toEqual(['xPathQueries: set xPathQueries or channels (or both)']);
    expect(issues({ xPathQueries: ['System!*', '*[System[(Level=1)]]'] })).toEqual([expect.stringMatching(/^xPathQueries\.1: expected "<Channel>!<XPath>"/)]);
    expect(issues({ xPathQueries: Array.from({ length: 21 }, () => 'System!*') })).toEqual([expect.stringMatching(/^xPathQueries: at most 20 XPath queries/)]);
    expect(issues({ channels: [{ name: 'System', levels: ['Fatal'] }] })).toHaveLength(1);
    expect(issues({ channels: [{ name: 'System', eventIds: [70000] }] })).toHaveLength(1);
    expect(issues({ channels: [{ name: 'System', levels: ['Error'], eventIds: [7036] }], table: 'WindowsEvent' })).toEqual([]);
  });

  it('maps windowsEventLogs data sources: xPathQueries checked with their path, the table from the stream, SecurityEvent unsupported', () => {
    const def = windowsEventLogSource(() => new FakeEventLog());
    const reg = new ComponentRegistry([def]);
    const rule = (entries: unknown[]) => ({ properties: { dataSources: { windowsEventLogs: entries } } });
    const ok = mapDcrToSources(
      rule([
        { name: 'events', streams: ['Microsoft-Event'], xPathQueries: ['Application!*[System[(Level=1 or Level=2)]]', 'Microsoft-Windows-Sysmon/Operational!*'] },
        { name: 'wevents', streams: ['Microsoft-SecurityEvent', 'Microsoft-WindowsEvent'], xPathQueries: ['Security!*[System[(EventID=4624)]]'] },
      ]),
      reg,
    );
    expect(ok.report.filter((r) => r.severity === 'error')).toEqual([]);
    expect(ok.sources['dcr-events']).toEqual({
      type: 'windows_event_log',
      xPathQueries: ['Application!*[System[(Level=1 or Level=2)]]', 'Microsoft-Windows-Sysmon/Operational!*'],
      table: 'Event',
    });
    expect(ok.sources['dcr-wevents']).toMatchObject({ table: 'WindowsEvent' });
    expect(ok.report.find((r) => r.path === 'properties.dataSources.windowsEventLogs[1].streams[0]')).toMatchObject({
      severity: 'warning',
      message: expect.stringMatching(/SecurityEvent/) as unknown,
    });
    const bad = mapDcrToSources(
      rule([
        { name: 'bad', streams: ['Microsoft-Event'], xPathQueries: ['System!*', '*[System[(Level=1)]]'] },
        { name: 'many', streams: ['Microsoft-Event'], xPathQueries: Array.from({ length: 21 }, (_, i) => `System!*[System[(EventID=${i})]]`) },
      ]),
      reg,
    );
    expect(bad.report.filter((r) => r.severity === 'error').map((r) => r.path)).toEqual([
      'properties.dataSources.windowsEventLogs[0].xPathQueries[1]',
      'properties.dataSources.windowsEventLogs[1].xPathQueries',
    ]);
    expect(bad.sources).toEqual({});
    expect(def.outputTables!(windowsEventLogConfigSchema.parse({ xPathQueries: ['System!*'], table: 'WindowsEvent' }))).toEqual(['WindowsEvent']);
  });

  // On Windows the binding loads; elsewhere it cannot, and the source idles.
  it.skipIf(process.platform === 'win32')('is a source type of the Windows platform; where its binding cannot load, it idles', async () => {
    const def = createPlatform().components.find((c) => c.type === 'windows_event_log');
    expect(def).toMatchObject({ kind: 'source', dcr: { kind: 'windowsEventLogs' } });
    const h = new Harness();
    const src = (def as ReturnType<typeof windowsEventLogSource>).create(windowsEventLogConfigSchema.parse({ xPathQueries: ['System!*'] }), h.ctx);
    await src.start();
    await src.stop(AbortSignal.timeout(1000));
    expect(h.logged('event log unavailable on this host; windows_event_log source idle')[0]).toMatchObject({ level: 50 });
    expect(h.ctx.failures).toEqual([]);
  });
});
