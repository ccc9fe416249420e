import { WIN32_ERROR, Win32Error, type EventLogBinding, type EventLogEvent, type EventLogSubscribeOptions, type EventLogSubscription } from '../../ports/event-log.js';
import type { EventLogTestEventSpec } from '../fake-event-log.js';

/** What the Event Log contract suite needs from a binding under test. */
export interface EventLogHarness {
  readonly binding: EventLogBinding;
  /** Creates an empty channel named `name` (a fresh one for each test). */
  createChannel(name: string): Promise<void>;
  /** Writes events to a channel, in order; resolves once they are readable. */
  write(channel: string, events: readonly EventLogTestEventSpec[]): Promise<void>;
  /** Clears a channel (its events are gone; record ids go on). */
  clear(channel: string): Promise<void>;
  /** Removes what the harness made. */
  dispose(): Promise<void>;
}

const ev = (i: number, over: Partial<EventLogTestEventSpec> = {}): EventLogTestEventSpec => ({
  provider: 'OMA-Test',
  eventId: 1000 + i,
  level: 4,
  data: [`d${i}`],
  ...over,
});

/** The EventID of each event's XML. */
function ids(events: readonly EventLogEvent[]): number[] {
  return events.map((e) => Number(/<EventID(?:\s[^>]*)?>(\d+)<\/EventID>/.exec(e.xml)?.[1] ?? NaN));
}

/** Reads until `next` returns nothing. */
function drain(s: EventLogSubscription): EventLogEvent[] {
  const out: EventLogEvent[] = [];
  for (;;) {
    const b = s.next();
    if (b.length === 0) return out;
    out.push(...b);
  }
}

/**
 * The `EventLogBinding` contract: the fake (core) and the koffi binding (agent-windows, under Wine
 * with the test-double wevtapi.dll, and on Windows) both pass it. vitest is imported when the suite
 * is declared (await it at a test file's top level), so `@oma/core/testing` loads without vitest.
 */
export async function eventLogContract(name: string, makeHarness: () => Promise<EventLogHarness>): Promise<void> {
  const { afterEach, beforeEach, describe, expect, it } = await import('vitest');

  describe(`EventLogBinding contract: ${name}`, () => {
    let h: EventLogHarness;
    let seq = 0;
    let channel: string;
    const subs: EventLogSubscription[] = [];
    const subscribe = (opts: Partial<EventLogSubscribeOptions> = {}): EventLogSubscription => {
      const s = h.binding.subscribe({ channel, query: '*', start: 'oldest', batchSize: 10, renderMessages: false, ...opts });
      subs.push(s);
      return s;
    };
    const win32 = (fn: () => unknown): number | undefined => {
      try {
        fn();
      } catch (err) {
        if (err instanceof Win32Error) return err.win32;
        throw err;
      }
      return undefined;
    };

    beforeEach(async () => {
      h = await makeHarness();
      channel = `OMA-Contract-${process.pid}-${++seq}/Operational`;
      await h.createChannel(channel);
    });
    afterEach(async () => {
      for (const s of subs.splice(0)) s.close();
      await h.dispose();
    });

    it('reads every event from the oldest, in order, at most batchSize per next, then nothing', async () => {
      await h.write(channel, Array.from({ length: 25 }, (_, i) => ev(i)));
      const s = subscribe({ batchSize: 10 });
      const sizes: number[] = [];
      const all: EventLogEvent[] = [];
      for (;;) {
        const b = s.next();
        if (b.length === 0) break;
        sizes.push(b.length);
        all.push(...b);
      }
      expect(sizes.every((n) => n <= 10)).toBe(true);
      expect(ids(all)).toEqual(Array.from({ length: 25 }, (_, i) => 1000 + i));
      expect(all[3]!.xml).toContain(`<Channel>${channel}</Channel>`);
      expect(all[3]!.xml).toContain('d3');
      expect(s.next()).toEqual([]);
    });

    it('from the future: only events written after the subscription', async () => {
      await h.write(channel, [ev(0), ev(1)]);
      const s = subscribe({ start: 'future' });
      expect(s.next()).toEqual([]);
      await h.write(channel, [ev(2)]);
      expect(ids(drain(s))).toEqual([1002]);
    });

    it('resumes after a bookmark with no gap and no duplicate; bookmark() is the one opened with until next reads', async () => {
      await h.write(channel, Array.from({ length: 8 }, (_, i) => ev(i)));
      const a = subscribe({ batchSize: 3 });
      expect(a.bookmark()).toBeUndefined();
      expect(ids(a.next())).toEqual([1000, 1001, 1002]);
      const mark = a.bookmark();
      expect(mark).toMatch(/<BookmarkList/);
      a.close();
      await h.write(channel, [ev(8)]);
      const b = subscribe({ bookmark: mark!, start: 'future', batchSize: 100 });
      expect(b.bookmark()).toBe(mark);
      expect(ids(drain(b))).toEqual([1003, 1004, 1005, 1006, 1007, 1008]);
      const end = b.bookmark();
      const c = subscribe({ bookmark: end! });
      expect(drain(c)).toEqual([]);
    });

    it('filters with XPath (levels, event ids) and with a structured query of several selects', async () => {
      await h.write(channel, [ev(0, { level: 1 }), ev(1, { level: 2 }), ev(2, { level: 3 }), ev(3, { level: 4 }), ev(4, { level: 2, eventId: 7036 })]);
      expect(ids(drain(subscribe({ query: '*[System[(Level=1 or Level=2)]]' })))).toEqual([1000, 1001, 7036]);
      expect(ids(drain(subscribe({ query: '*[System[(EventID=7036)]]' })))).toEqual([7036]);
      const q =
        `<QueryList><Query Id="0" Path="${channel}">` +
        `<Select Path="${channel}">*[System[(Level=3)]]</Select>` +
        `<Select Path="${channel}">*[System[(EventID=1000)]]</Select>` +
        `</Query></QueryList>`;
      expect(ids(drain(subscribe({ query: q })))).toEqual([1000, 1002]);
    });

    it('wait: signaled when events are written, timeout when none are, closed on close', async () => {
      const s = subscribe({ start: 'future' });
      expect(s.next()).toEqual([]);
      expect(await s.wait(50)).toBe('timeout');
      const w = s.wait(10_000);
      await h.write(channel, [ev(0)]);
      expect(await w).toBe('signaled');
      expect(ids(drain(s))).toEqual([1000]);
      const closing = s.wait(10_000);
      s.close();
      expect(await closing).toBe('closed');
    });

    it('formats messages only when asked', async () => {
      await h.write(channel, [ev(0)]);
      const plain = drain(subscribe());
      expect(plain[0]!.message).toBeUndefined();
    });

    it('strict bookmarks: after the channel is cleared, a bookmark of a gone event is NOT_FOUND', async () => {
      await h.write(channel, [ev(0), ev(1)]);
      const s = subscribe();
      drain(s);
      const mark = s.bookmark()!;
      await h.clear(channel);
      await h.write(channel, [ev(2)]);
      expect(win32(() => subscribe({ bookmark: mark }))).toBe(WIN32_ERROR.NOT_FOUND);
      expect(ids(drain(subscribe()))).toEqual([1002]);
    });

    it('a channel that does not exist is EVT_CHANNEL_NOT_FOUND; a bad query EVT_INVALID_QUERY', () => {
      expect(win32(() => subscribe({ channel: `OMA-No-Such-Channel-${process.pid}` }))).toBe(WIN32_ERROR.EVT_CHANNEL_NOT_FOUND);
      expect(win32(() => subscribe({ query: '*[System[(Level=1]]' }))).toBe(WIN32_ERROR.EVT_INVALID_QUERY);
    });
  });
}
