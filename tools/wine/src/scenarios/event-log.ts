/**
 * Under Wine: the real koffi wevtapi binding of @oma/windows against the test-double wevtapi.dll.
 * Records what it observes; the assertions are in event-log.test.ts.
 */
import { WIN32_ERROR, type EventLogEvent, type EventLogSubscription } from '@oma/core';
import { createEventLogBinding, type EventLogWaitMode } from '@oma/windows';
import { eventXml, loadDouble, recordId } from './double.js';
import { attempt, scenario, type RecordedError } from './harness.js';

export interface EventLogScenarioArgs {
  /** The binding's first render buffer; the large events are bigger. */
  readonly initialRenderBytes: number;
}

export interface WaitObservation {
  readonly mode: EventLogWaitMode;
  /** What a wait of 30 s gave when an event was appended while it waited. */
  readonly result: string;
  readonly elapsedMs: number;
  /** EvtNext calls while the wait was under way (no polling: 0). */
  readonly evtNextDuringWait: number;
  /** What a 200 ms wait gave with nothing appended. */
  readonly idle: string;
  readonly idleElapsedMs: number;
  /** What a wait under way gave when the subscription closed. */
  readonly onClose: string;
  readonly onCloseElapsedMs: number;
}

export interface EventLogScenarioResult {
  readonly channelNotFound?: RecordedError;
  readonly invalidQuery?: RecordedError;
  /** Record ids read by the first subscription, oldest first. */
  readonly firstIds: number[];
  /** Lengths of the events' XML, to check that the large ones came whole. */
  readonly xmlLengths: number[];
  readonly largeXmlIntact: boolean;
  readonly messages: (string | null)[];
  readonly batchSizes: number[];
  readonly bookmarkAfterFirst?: string;
  readonly renderInsufficient: number;
  readonly formatInsufficient: number;
  readonly publisherOpens: number;
  readonly waits: WaitObservation[];
  /** Ids read after the waits, then by a new subscription after the bookmark. */
  readonly afterWaitIds: number[];
  readonly resumedIds: number[];
  /** Appended while no subscription was open: what a resume after the bookmark must give. */
  readonly appendedWhileClosed: number[];
  readonly futureIds: number[];
  readonly afterClear?: RecordedError;
  readonly afterClearLoose?: number[];
  readonly openHandlesAtEnd: number;
}

const CHANNEL = 'Application';
const PROVIDER = 'OMA-Test-Provider';

function drain(sub: EventLogSubscription, batches?: number[]): EventLogEvent[] {
  const all: EventLogEvent[] = [];
  for (;;) {
    const batch = sub.next();
    if (batch.length === 0) return all;
    batches?.push(batch.length);
    all.push(...batch);
  }
}

async function observeWait(mode: EventLogWaitMode, double: ReturnType<typeof loadDouble>): Promise<WaitObservation> {
  const binding = createEventLogBinding({ waitMode: mode });
  const sub = binding.subscribe({ channel: CHANNEL, query: '*', start: 'future', batchSize: 16, renderMessages: false });
  try {
    // The signal starts set: the first wait returns at once, and next() finds nothing and resets it.
    await sub.wait(1000);
    drain(sub);
    const idleStart = performance.now();
    const idle = await sub.wait(200);
    const idleElapsedMs = performance.now() - idleStart;

    const nextBefore = double.counter('EvtNext');
    const start = performance.now();
    const waiting = sub.wait(30_000);
    // Append once the wait is registered, from a later turn of the event loop.
    await new Promise((r) => setTimeout(r, 50));
    const nextDuring = double.counter('EvtNext') - nextBefore;
    double.append(CHANNEL, PROVIDER, eventXml(PROVIDER, CHANNEL, 7000), 'woken');
    const result = await waiting;
    const elapsedMs = performance.now() - start;
    drain(sub);

    const closeStart = performance.now();
    const pending = sub.wait(30_000);
    setTimeout(() => sub.close(), 50);
    const onClose = await pending;
    return {
      mode,
      result,
      elapsedMs,
      evtNextDuringWait: nextDuring,
      idle,
      idleElapsedMs,
      onClose,
      onCloseElapsedMs: performance.now() - closeStart,
    };
  } finally {
    sub.close();
  }
}

scenario<EventLogScenarioArgs, EventLogScenarioResult>(async (args) => {
  const double = loadDouble();
  double.reset();
  const binding = createEventLogBinding({ initialRenderBytes: args.initialRenderBytes });

  const channelNotFound = attempt(() =>
    binding.subscribe({ channel: 'No-Such-Channel/Operational', query: '*', start: 'oldest', batchSize: 10, renderMessages: false }),
  ).error;

  double.createChannel(CHANNEL);
  const invalidQuery = attempt(() =>
    binding.subscribe({ channel: CHANNEL, query: 'not an xpath', start: 'oldest', batchSize: 10, renderMessages: false }),
  ).error;

  // 6 small events with messages, 2 larger than the first render buffer, one without a message,
  // one whose provider has no publisher metadata, and a message larger than the first buffer.
  const largeChars = args.initialRenderBytes; // UTF-16: twice as many bytes as the buffer holds
  double.append(CHANNEL, PROVIDER, eventXml(PROVIDER, CHANNEL, 1000), 'Message number one', 6);
  double.append(CHANNEL, PROVIDER, eventXml(PROVIDER, CHANNEL, 1001, largeChars), 'A large event', 2);
  double.append(CHANNEL, PROVIDER, eventXml(PROVIDER, CHANNEL, 1002), null);
  double.append(CHANNEL, PROVIDER, eventXml('Unregistered-Provider', CHANNEL, 1003), 'never formatted');
  double.append(CHANNEL, PROVIDER, eventXml(PROVIDER, CHANNEL, 1004), 'm'.repeat(args.initialRenderBytes));

  const first = binding.subscribe({ channel: CHANNEL, query: '*', start: 'oldest', batchSize: 4, renderMessages: true });
  const batchSizes: number[] = [];
  const events = drain(first, batchSizes);
  const bookmarkAfterFirst = first.bookmark();
  first.close();
  const large = events.filter((e) => e.xml.includes("<Data Name='Payload'>"));
  const largeXmlIntact = large.length === 2 && large.every((e) => e.xml.endsWith('</EventData></Event>') && e.xml.includes('x'.repeat(largeChars)));

  const waits = [await observeWait('thread-pool', double), await observeWait('async', double)];

  // Resume: a subscription after the first one's bookmark reads the events the waits appended, and
  // the bookmark after those; then events appended while none is open.
  const second = binding.subscribe({ channel: CHANNEL, query: '*', start: 'oldest', bookmark: bookmarkAfterFirst, batchSize: 3, renderMessages: false });
  const afterWait = drain(second);
  const bookmark2 = second.bookmark();
  second.close();
  const firstNew = double.append(CHANNEL, PROVIDER, eventXml(PROVIDER, CHANNEL, 2000), 'later', 5);
  const appendedWhileClosed = [0, 1, 2, 3, 4].map((i) => firstNew + i);
  const third = binding.subscribe({ channel: CHANNEL, query: '*', start: 'oldest', bookmark: bookmark2, batchSize: 2, renderMessages: true });
  const resumed = drain(third);
  const bookmark3 = third.bookmark();
  third.close();

  // Only events written from now on.
  const future = binding.subscribe({ channel: CHANNEL, query: '*', start: 'future', batchSize: 8, renderMessages: false });
  drain(future);
  const futureFirst = double.append(CHANNEL, PROVIDER, eventXml(PROVIDER, CHANNEL, 3000), null, 2);
  const futureIds = drain(future).map((e) => recordId(e.xml));
  future.close();
  void futureFirst;

  // The channel is cleared: the strict subscription after the bookmark finds its event gone.
  double.clear(CHANNEL);
  const afterClear = attempt(() =>
    binding.subscribe({ channel: CHANNEL, query: '*', start: 'oldest', bookmark: bookmark3, batchSize: 8, renderMessages: false }),
  ).error;
  // What a caller does then: start again from the oldest event.
  double.append(CHANNEL, PROVIDER, eventXml(PROVIDER, CHANNEL, 4000), null, 2);
  let afterClearLoose: number[] | undefined;
  if (afterClear?.win32 === WIN32_ERROR.NOT_FOUND) {
    const fresh = binding.subscribe({ channel: CHANNEL, query: '*', start: 'oldest', batchSize: 8, renderMessages: false });
    afterClearLoose = drain(fresh).map((e) => recordId(e.xml));
    fresh.close();
  }

  return {
    ...(channelNotFound === undefined ? {} : { channelNotFound }),
    ...(invalidQuery === undefined ? {} : { invalidQuery }),
    firstIds: events.map((e) => recordId(e.xml)),
    xmlLengths: events.map((e) => e.xml.length),
    largeXmlIntact,
    messages: events.map((e) => e.message ?? null),
    batchSizes,
    ...(bookmarkAfterFirst === undefined ? {} : { bookmarkAfterFirst }),
    renderInsufficient: double.counter('EvtRender.insufficient'),
    formatInsufficient: double.counter('EvtFormatMessage.insufficient'),
    publisherOpens: double.counter('EvtOpenPublisherMetadata'),
    waits,
    afterWaitIds: afterWait.map((e) => recordId(e.xml)),
    resumedIds: resumed.map((e) => recordId(e.xml)),
    appendedWhileClosed,
    futureIds,
    ...(afterClear === undefined ? {} : { afterClear }),
    ...(afterClearLoose === undefined ? {} : { afterClearLoose }),
    openHandlesAtEnd: double.openHandles(),
  };
});
