import { WIN32_ERROR } from '@oma/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EventLogScenarioResult } from './scenarios/event-log.js';
import { WINE_SKIP_REASON, WINE_TESTS_ENABLED } from './enabled.js';
import { runScenario } from './wine.js';

const INITIAL_RENDER_BYTES = 4096;

describe.skipIf(!WINE_TESTS_ENABLED)(`wevtapi binding under Wine, through the test-double wevtapi.dll${WINE_TESTS_ENABLED ? '' : ` (skipped: ${WINE_SKIP_REASON})`}`, () => {
  let r: EventLogScenarioResult;
  beforeAll(async () => {
    r = await runScenario<EventLogScenarioResult>('event-log', { initialRenderBytes: INITIAL_RENDER_BYTES }, { timeoutMs: 120_000 });
  });

  it('refuses a channel that does not exist and a bad query with their Win32 errors', () => {
    expect(r.channelNotFound).toMatchObject({ code: 'OMA_ERR_NATIVE', win32: WIN32_ERROR.EVT_CHANNEL_NOT_FOUND, call: 'EvtSubscribe' });
    expect(r.invalidQuery).toMatchObject({ win32: WIN32_ERROR.EVT_INVALID_QUERY, call: 'EvtSubscribe' });
  });

  it('reads every event oldest first in batches of at most batchSize', () => {
    expect(r.firstIds).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(r.batchSizes).toEqual([4, 4, 3]);
  });

  it('renders events larger than the first buffer whole, through the ERROR_INSUFFICIENT_BUFFER retry', () => {
    expect(r.largeXmlIntact).toBe(true);
    expect(Math.max(...r.xmlLengths) * 2).toBeGreaterThan(INITIAL_RENDER_BYTES);
    expect(r.renderInsufficient).toBeGreaterThan(0);
  });

  it('formats messages with cached publisher metadata; none where the publisher has no message or no metadata', () => {
    expect(r.messages.slice(0, 6)).toEqual(Array(6).fill('Message number one'));
    expect(r.messages.slice(6, 8)).toEqual(['A large event', 'A large event']);
    expect(r.messages[8]).toBeNull();
    expect(r.messages[9]).toBeNull();
    expect(r.messages[10]).toBe('m'.repeat(INITIAL_RENDER_BYTES));
    expect(r.formatInsufficient).toBeGreaterThan(0);
    // One open per provider per subscription: the first and the resumed subscription, two providers for the first.
    expect(r.publisherOpens).toBe(3);
  });

  it('renders the bookmark as XML after the last event read', () => {
    expect(r.bookmarkAfterFirst).toMatch(/<BookmarkList>\s*<Bookmark Channel='Application' RecordId='11' IsCurrent='true'\/>\s*<\/BookmarkList>/);
  });

  it.each(['thread-pool', 'async'] as const)('wakes a %s wait with the signal event, without polling; times out; resolves closed on close', (mode) => {
    const w = r.waits.find((x) => x.mode === mode)!;
    expect(w.result).toBe('signaled');
    expect(w.elapsedMs).toBeLessThan(10_000);
    expect(w.evtNextDuringWait).toBe(0);
    expect(w.idle).toBe('timeout');
    expect(w.idleElapsedMs).toBeGreaterThanOrEqual(150);
    expect(w.onClose).toBe('closed');
    expect(w.onCloseElapsedMs).toBeLessThan(10_000);
  });

  it('resumes after a bookmark with no gap and no duplicate', () => {
    expect(r.afterWaitIds).toEqual([12, 13]);
    expect(r.resumedIds).toEqual(r.appendedWhileClosed);
  });

  it('reads only later events when started at the future', () => {
    expect(r.futureIds).toHaveLength(2);
    expect(r.futureIds[0]).toBe(r.appendedWhileClosed.at(-1)! + 1);
  });

  it('refuses a strict bookmark whose event was cleared with NOT_FOUND, and the caller can start again from the oldest', () => {
    expect(r.afterClear).toMatchObject({ win32: WIN32_ERROR.NOT_FOUND, call: 'EvtSubscribe' });
    expect(r.afterClearLoose).toHaveLength(2);
  });

  it('leaves no handle of the double open', () => {
    expect(r.openHandlesAtEnd).toBe(0);
  });
});
