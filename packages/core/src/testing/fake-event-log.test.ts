import { describe, expect, it } from 'vitest';
import { WIN32_ERROR, Win32Error } from '../ports/event-log.js';
import { eventLogContract } from './contracts/event-log.js';
import { FakeEventLog, compileEventXPath, eventLogBookmarkXml, eventLogTestXml, parseEventLogBookmark } from './fake-event-log.js';

await eventLogContract('fake', () => {
  const fake = new FakeEventLog();
  return Promise.resolve({
    binding: fake,
    createChannel: (name) => Promise.resolve(fake.createChannel(name)),
    write: (channel, events) => Promise.resolve(void fake.append(channel, events.map((e) => eventLogTestXml(channel, e)))),
    clear: (channel) => Promise.resolve(fake.clear(channel)),
    dispose: () => Promise.resolve(),
  });
});

const sys = (o: Partial<{ level: number; eventId: number; task: number; keywords: bigint; provider: string }>) => ({
  level: 4,
  eventId: 1,
  task: 0,
  keywords: 0n,
  provider: 'P',
  ...o,
});

function win32Of(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof Win32Error ? err.win32 : -1;
  }
  return undefined;
}

describe('FakeEventLog', () => {
  it('evaluates the XPath subset of data collection rules and refuses the rest', () => {
    const p = compileEventXPath("*[System[Provider[@Name='Service Control Manager'] and (Level=1 or Level=2) and EventID!=7000]]");
    expect(p(sys({ provider: 'Service Control Manager', level: 2, eventId: 7036 }))).toBe(true);
    expect(p(sys({ provider: 'Service Control Manager', level: 2, eventId: 7000 }))).toBe(false);
    expect(p(sys({ provider: 'Other', level: 1 }))).toBe(false);
    expect(compileEventXPath('*[System[band(Keywords,0x10000000000000)]]')(sys({ keywords: 0x8010000000000000n }))).toBe(true);
    expect(compileEventXPath('*[System[Task >= 12544]]')(sys({ task: 12544 }))).toBe(true);
    for (const bad of ['', 'Event', "*[EventData[Data[@Name='x']='y']]", '*[System[(Level=1]]', '*[System[Level=]]', '*[System[Level=1 xor Level=2]]']) {
      expect(win32Of(() => compileEventXPath(bad)), bad).toBe(WIN32_ERROR.EVT_INVALID_QUERY);
    }
  });

  it('makes and reads bookmarks as Windows renders them', () => {
    const xml = eventLogBookmarkXml("App's/Operational", 42);
    expect(xml).toBe("<BookmarkList>\r\n  <Bookmark Channel='App&apos;s/Operational' RecordId='42' IsCurrent='true'/>\r\n</BookmarkList>");
    expect(parseEventLogBookmark(xml)).toEqual({ channel: "App's/Operational", recordId: 42 });
    expect(parseEventLogBookmark('<Bookmark/>')).toBeUndefined();
  });

  it('numbers events, passes messages when asked, denies access, fails a read once and counts subscriptions', () => {
    const f = new FakeEventLog();
    expect(f.append('Application', [{ xml: eventLogTestXml('Application', { provider: 'A', eventId: 1, level: 4 }), message: 'hello' }])).toEqual([1]);
    const s = f.subscribe({ channel: 'application', query: '*', start: 'oldest', batchSize: 5, renderMessages: true });
    const [e] = s.next();
    expect(e).toMatchObject({ message: 'hello' });
    expect(e!.xml).toContain('<EventRecordID>1</EventRecordID>');
    f.failNextRead('Application', WIN32_ERROR.EVT_QUERY_RESULT_STALE);
    expect(win32Of(() => s.next())).toBe(WIN32_ERROR.EVT_QUERY_RESULT_STALE);
    expect(s.next()).toEqual([]);
    expect(f.openSubscriptions('Application')).toBe(1);
    s.close();
    expect(f.openSubscriptions()).toBe(0);
    f.denyAccess('Security');
    expect(win32Of(() => f.subscribe({ channel: 'Security', query: '*', start: 'oldest', batchSize: 5, renderMessages: false }))).toBe(WIN32_ERROR.ACCESS_DENIED);
    f.denyAccess('Security', false);
    expect(win32Of(() => f.subscribe({ channel: 'Security', query: '*', start: 'oldest', batchSize: 5, renderMessages: false }))).toBeUndefined();
    expect(win32Of(() => f.subscribe({ channel: 'Application', query: '*', bookmark: 'junk', start: 'oldest', batchSize: 5, renderMessages: false }))).toBe(
      WIN32_ERROR.INVALID_PARAMETER,
    );
  });
});
