/**
 * The Windows Event Log, as the `windows_event_log` source uses it. On Windows the real binding is
 * koffi over wevtapi.dll (agent-windows); `@oma/core/testing` has a pure-TS fake, and both pass the
 * same contract suite (`@oma/core/testing/contracts`).
 *
 * The port is a pull subscription per channel: the binding subscribes with a signal event, the
 * source asks for the events available now (`next`), and waits for more without blocking the JS
 * thread (`wait`). Positions are bookmarks: opaque XML strings the binding makes and understands.
 */
import { AgentError } from '../errors.js';

/** Win32 error codes the source tells apart (winerror.h). */
export const WIN32_ERROR = {
  ACCESS_DENIED: 5,
  INVALID_PARAMETER: 87,
  INSUFFICIENT_BUFFER: 122,
  NO_MORE_ITEMS: 259,
  /** The bookmarked event is gone (the channel was cleared or wrapped) under a strict subscription. */
  NOT_FOUND: 1168,
  EVT_INVALID_QUERY: 15001,
  EVT_CHANNEL_NOT_FOUND: 15007,
  EVT_MESSAGE_NOT_FOUND: 15027,
  EVT_MESSAGE_ID_NOT_FOUND: 15028,
  EVT_UNRESOLVED_VALUE_INSERT: 15029,
  EVT_PUBLISHER_METADATA_NOT_FOUND: 15002,
  EVT_QUERY_RESULT_STALE: 15011,
} as const;

/**
 * An error from a Windows API call: `code` is `OMA_ERR_NATIVE`, `win32` the error code
 * (GetLastError or the status returned), `call` the function that failed.
 */
export class Win32Error extends AgentError {
  readonly win32: number;
  readonly call: string;
  constructor(call: string, win32: number, detail?: string) {
    super('OMA_ERR_NATIVE', `${call} failed: Win32 error ${win32}${detail === undefined ? '' : ` (${detail})`}`);
    this.name = 'Win32Error';
    this.win32 = win32;
    this.call = call;
  }
}

/** Whether `err` is a Win32Error with one of these codes. */
export function isWin32Error(err: unknown, ...codes: number[]): err is Win32Error {
  return err instanceof Win32Error && (codes.length === 0 || codes.includes(err.win32));
}

export interface EventLogSubscribeOptions {
  /** The channel's full name (Event Viewer, Properties, Full Name): `Application`, `Microsoft-Windows-Sysmon/Operational`. */
  readonly channel: string;
  /**
   * What to read: a structured query (`<QueryList>…</QueryList>`) or an XPath filter (`*`,
   * `*[System[(Level=1 or Level=2)]]`) over `channel`.
   */
  readonly query: string;
  /**
   * Read the events after this bookmark (XML from `EventLogSubscription.bookmark()`). The
   * subscription is strict: when the bookmarked event is no longer in the channel, `subscribe`
   * throws `Win32Error` NOT_FOUND and the caller decides where to start instead.
   */
  readonly bookmark?: string;
  /** Without a bookmark: every event in the channel (`oldest`) or only events written from now (`future`). */
  readonly start: 'oldest' | 'future';
  /** Events returned by one `next` at most. */
  readonly batchSize: number;
  /** Format each event's message text (EvtFormatMessage, with cached publisher metadata). */
  readonly renderMessages: boolean;
}

/** One event as the binding read it. */
export interface EventLogEvent {
  /** The event's XML as EvtRender(EvtRenderEventXml) gives it (`<Event xmlns=…><System>…</System>…</Event>`). */
  readonly xml: string;
  /**
   * The formatted message; undefined when messages were not asked for, or the publisher has no
   * message for the event (its metadata is missing, the message id is unknown).
   */
  readonly message?: string;
}

export type EventLogWaitResult = 'signaled' | 'timeout' | 'closed';

export interface EventLogSubscription {
  /**
   * Events available now, oldest first, at most `batchSize`; empty when there are none. The
   * subscription's bookmark moves past them. Throws `Win32Error` when the channel cannot be read.
   */
  next(): EventLogEvent[];
  /**
   * Resolves 'signaled' when new events may be available, 'timeout' after `timeoutMs`, 'closed' when
   * the subscription closes. Never blocks the JS thread. One wait at a time.
   */
  wait(timeoutMs: number): Promise<EventLogWaitResult>;
  /**
   * The bookmark after the last event `next` returned (EvtRender of the bookmark: XML), or the
   * bookmark the subscription was opened with when `next` returned nothing yet; undefined when
   * there is neither.
   */
  bookmark(): string | undefined;
  /** Closes the subscription and its handles; a wait under way resolves 'closed'. */
  close(): void;
}

/** Reads Windows event channels: the port a platform provides (agent-windows: koffi over wevtapi.dll). */
export interface EventLogBinding {
  /**
   * Subscribes to one channel. Throws `Win32Error`: EVT_CHANNEL_NOT_FOUND (no such channel),
   * ACCESS_DENIED (Security without the right), EVT_INVALID_QUERY (a bad XPath), NOT_FOUND (the
   * bookmarked event is gone), or `AgentError` OMA_ERR_NATIVE_LOAD when wevtapi.dll cannot be loaded.
   */
  subscribe(opts: EventLogSubscribeOptions): EventLogSubscription;
}
