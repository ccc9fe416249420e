/**
 * wevtapi.dll, declared once, and the real `EventLogBinding` over it: pull subscriptions with a
 * signal event, EvtNext in batches, EvtRender of the event XML into one reusable buffer, messages
 * with EvtFormatMessage and cached publisher metadata, bookmarks rendered to XML.
 */
import {
  AgentError,
  WIN32_ERROR,
  type EventLogBinding,
  type EventLogEvent,
  type EventLogSubscribeOptions,
  type EventLogSubscription,
  type EventLogWaitResult,
} from '@oma/core';
import { lastError, loadKernel32, SignalEvent, WAIT } from './kernel32.js';
import { declare, loadLibrary, type NativeFunction } from './load.js';

/** An EVT_HANDLE (koffi 3 gives pointers as BigInt). */
export type EvtHandle = bigint & { readonly __kind: 'EVT_HANDLE' };

/** EVT_SUBSCRIBE_FLAGS (winevt.h). */
export const EVT_SUBSCRIBE = { TO_FUTURE_EVENTS: 1, START_AT_OLDEST_RECORD: 2, START_AFTER_BOOKMARK: 3, STRICT: 0x1_0000 } as const;
/** EVT_RENDER_FLAGS. */
export const EVT_RENDER = { EVENT_VALUES: 0, EVENT_XML: 1, BOOKMARK: 2 } as const;
/** EVT_FORMAT_MESSAGE_FLAGS. */
export const EVT_FORMAT_MESSAGE_EVENT = 1;
/** ERROR_TIMEOUT: EvtNext found nothing within its timeout. */
const ERROR_TIMEOUT = 1460;

export interface Wevtapi {
  readonly EvtSubscribe: NativeFunction<
    (
      session: null,
      signalEvent: bigint,
      channelPath: string | null,
      query: string,
      bookmark: EvtHandle | null,
      context: null,
      callback: null,
      flags: number,
    ) => EvtHandle | null
  >;
  readonly EvtNext: NativeFunction<
    (resultSet: EvtHandle, eventsSize: number, events: BigUint64Array, timeoutMs: number, flags: number, returned: Uint32Array) => number
  >;
  readonly EvtRender: NativeFunction<
    (
      context: null,
      fragment: EvtHandle,
      flags: number,
      bufferSize: number,
      buffer: Buffer | null,
      bufferUsed: Uint32Array,
      propertyCount: Uint32Array,
    ) => number
  >;
  readonly EvtFormatMessage: NativeFunction<
    (
      publisherMetadata: EvtHandle | null,
      event: EvtHandle,
      messageId: number,
      valueCount: number,
      values: null,
      flags: number,
      bufferSize: number,
      buffer: Buffer | null,
      bufferUsed: Uint32Array,
    ) => number
  >;
  readonly EvtOpenPublisherMetadata: NativeFunction<
    (session: null, publisherId: string, logFilePath: null, locale: number, flags: number) => EvtHandle | null
  >;
  readonly EvtCreateBookmark: NativeFunction<(bookmarkXml: string | null) => EvtHandle | null>;
  readonly EvtUpdateBookmark: NativeFunction<(bookmark: EvtHandle, event: EvtHandle) => number>;
  readonly EvtClose: NativeFunction<(object: EvtHandle) => number>;
}

let wevtapi: Wevtapi | undefined;

/** wevtapi's functions, declared on first use (the DLL is `OMA_WEVTAPI_DLL` when set, for tests). */
export function loadWevtapi(): Wevtapi {
  if (wevtapi !== undefined) return wevtapi;
  const { lib } = loadLibrary('wevtapi');
  const fn = <T extends (...args: never[]) => unknown>(def: string): NativeFunction<T> => declare<T>(lib, 'wevtapi', def);
  wevtapi = {
    EvtSubscribe: fn(
      'void * __stdcall EvtSubscribe(void *Session, void *SignalEvent, const char16_t *ChannelPath, const char16_t *Query, void *Bookmark, void *Context, void *Callback, uint32_t Flags)',
    ),
    EvtNext: fn('int __stdcall EvtNext(void *ResultSet, uint32_t EventsSize, void *Events, uint32_t Timeout, uint32_t Flags, void *Returned)'),
    EvtRender: fn(
      'int __stdcall EvtRender(void *Context, void *Fragment, uint32_t Flags, uint32_t BufferSize, void *Buffer, void *BufferUsed, void *PropertyCount)',
    ),
    EvtFormatMessage: fn(
      'int __stdcall EvtFormatMessage(void *PublisherMetadata, void *Event, uint32_t MessageId, uint32_t ValueCount, void *Values, uint32_t Flags, uint32_t BufferSize, void *Buffer, void *BufferUsed)',
    ),
    EvtOpenPublisherMetadata: fn(
      'void * __stdcall EvtOpenPublisherMetadata(void *Session, const char16_t *PublisherId, const char16_t *LogFilePath, uint32_t Locale, uint32_t Flags)',
    ),
    EvtCreateBookmark: fn('void * __stdcall EvtCreateBookmark(const char16_t *BookmarkXml)'),
    EvtUpdateBookmark: fn('int __stdcall EvtUpdateBookmark(void *Bookmark, void *Event)'),
    EvtClose: fn('int __stdcall EvtClose(void *Object)'),
  };
  return wevtapi;
}

/** How `wait` waits for the signal event. */
export type EventLogWaitMode =
  /** RegisterWaitForSingleObject: the Windows thread pool waits, no Node thread is held (the default). */
  | 'thread-pool'
  /** WaitForSingleObject through koffi `.async`: a libuv pool thread waits, in slices of at most 1 s. */
  | 'async';

export interface EventLogBindingOptions {
  /** Bytes of the render buffer at first (it grows to the largest event). */
  readonly initialRenderBytes?: number;
  readonly waitMode?: EventLogWaitMode;
}

/** The longest single `.async` wait, so that a libuv pool thread is never held for long. */
const MAX_ASYNC_WAIT_MS = 1000;
const DEFAULT_RENDER_BYTES = 16 * 1024;

/** The real Event Log binding: koffi over wevtapi.dll. Nothing is loaded until the first `subscribe`. */
export function createEventLogBinding(options: EventLogBindingOptions = {}): EventLogBinding {
  return {
    subscribe(opts: EventLogSubscribeOptions): EventLogSubscription {
      return new WevtSubscription(loadWevtapi(), opts, options);
    },
  };
}

const PROVIDER_NAME = /<Provider\b[^>]*?\bName=(["'])(.*?)\1/;

/** The provider's name in an event's XML (`<Provider Name='…'`), XML entities decoded. */
export function providerName(xml: string): string | undefined {
  const m = PROVIDER_NAME.exec(xml);
  if (m === null) return undefined;
  return m[2]!.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[e]!);
}

/** A string from `used` bytes of UTF-16LE, without the terminating NUL. */
function utf16(buf: Buffer, usedBytes: number): string {
  let end = Math.min(usedBytes, buf.length);
  if (end >= 2 && buf[end - 1] === 0 && buf[end - 2] === 0) end -= 2;
  return buf.toString('utf16le', 0, end);
}

class WevtSubscription implements EventLogSubscription {
  private readonly api: Wevtapi;
  private readonly opts: EventLogSubscribeOptions;
  private readonly waitMode: EventLogWaitMode;
  private readonly signal: SignalEvent;
  private readonly bookmarkHandle: EvtHandle;
  private readonly subscription: EvtHandle;
  private readonly handles: BigUint64Array;
  private readonly returned = new Uint32Array(1);
  private readonly used = new Uint32Array(1);
  private readonly count = new Uint32Array(1);
  private renderBuf: Buffer;
  private messageBuf: Buffer;
  private readonly publishers = new Map<string, EvtHandle | null>();
  /** The bookmark's XML as last rendered; undefined when it must be rendered again. */
  private bookmarkXml: string | undefined;
  private hasBookmark: boolean;
  private closed = false;
  private waiting: { resolve: (r: EventLogWaitResult) => void; cancel: () => void } | undefined;
  /** An `.async` wait still running on a koffi worker: the signal event is closed when it returns. */
  private asyncInFlight = false;

  constructor(api: Wevtapi, opts: EventLogSubscribeOptions, options: EventLogBindingOptions) {
    this.api = api;
    this.opts = opts;
    this.waitMode = options.waitMode ?? 'thread-pool';
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
      throw new AgentError('OMA_ERR_NATIVE', `batchSize must be a positive integer, not ${opts.batchSize}`);
    }
    this.handles = new BigUint64Array(opts.batchSize);
    this.renderBuf = Buffer.allocUnsafe(options.initialRenderBytes ?? DEFAULT_RENDER_BYTES);
    this.messageBuf = Buffer.allocUnsafe(options.initialRenderBytes ?? DEFAULT_RENDER_BYTES);
    this.signal = new SignalEvent();
    let bookmark: EvtHandle | null = null;
    try {
      bookmark = api.EvtCreateBookmark(opts.bookmark ?? null);
      if (bookmark === null || bookmark === 0n) throw lastError('EvtCreateBookmark');
      const structured = opts.query.trimStart().startsWith('<');
      const flags =
        opts.bookmark !== undefined
          ? EVT_SUBSCRIBE.START_AFTER_BOOKMARK | EVT_SUBSCRIBE.STRICT
          : opts.start === 'oldest'
            ? EVT_SUBSCRIBE.START_AT_OLDEST_RECORD
            : EVT_SUBSCRIBE.TO_FUTURE_EVENTS;
      const sub = api.EvtSubscribe(
        null,
        this.signal.handle,
        structured ? null : opts.channel,
        opts.query,
        opts.bookmark !== undefined ? bookmark : null,
        null,
        null,
        flags,
      );
      if (sub === null || sub === 0n) throw lastError('EvtSubscribe');
      this.subscription = sub;
      this.bookmarkHandle = bookmark;
    } catch (err) {
      if (bookmark !== null && bookmark !== 0n) api.EvtClose(bookmark);
      this.signal.close();
      throw err;
    }
    this.hasBookmark = opts.bookmark !== undefined;
    this.bookmarkXml = opts.bookmark;
  }

  next(): EventLogEvent[] {
    if (this.closed) return [];
    const { api } = this;
    // Reset before reading: an event written after this point sets the signal again, so no wake-up is lost.
    this.signal.reset();
    if (api.EvtNext(this.subscription, this.handles.length, this.handles, 0, 0, this.returned) === 0) {
      const err = lastError('EvtNext');
      if (err.win32 === WIN32_ERROR.NO_MORE_ITEMS || err.win32 === ERROR_TIMEOUT) return [];
      throw err;
    }
    const n = this.returned[0]!;
    const events: EventLogEvent[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const h = this.handles[i] as EvtHandle;
        const xml = this.render(h, EVT_RENDER.EVENT_XML, 'EvtRender');
        events.push(this.opts.renderMessages ? { xml, message: this.message(h, xml) } : { xml });
      }
      if (n > 0) {
        if (api.EvtUpdateBookmark(this.bookmarkHandle, this.handles[n - 1] as EvtHandle) === 0) throw lastError('EvtUpdateBookmark');
        this.hasBookmark = true;
        this.bookmarkXml = undefined;
      }
    } finally {
      for (let i = 0; i < n; i++) api.EvtClose(this.handles[i] as EvtHandle);
    }
    // A full batch may leave events behind: keep the signal set so that the next wait returns at once.
    if (n === this.handles.length) this.signal.set();
    return events;
  }

  /** EvtRender of `fragment` as XML (an event, or the bookmark) into the reusable buffer, grown once when too small. */
  private render(fragment: EvtHandle, flags: number, call: string): string {
    const { api } = this;
    for (let attempt = 0; ; attempt++) {
      if (api.EvtRender(null, fragment, flags, this.renderBuf.length, this.renderBuf, this.used, this.count) !== 0) {
        return utf16(this.renderBuf, this.used[0]!);
      }
      const err = lastError(call);
      if (err.win32 !== WIN32_ERROR.INSUFFICIENT_BUFFER || attempt > 0) throw err;
      this.renderBuf = Buffer.allocUnsafe(grow(this.renderBuf.length, this.used[0]!));
    }
  }

  /** The event's message (EvtFormatMessage, EvtFormatMessageEvent); undefined when the publisher has none for it. */
  private message(event: EvtHandle, xml: string): string | undefined {
    const provider = providerName(xml);
    if (provider === undefined) return undefined;
    const metadata = this.publisher(provider);
    if (metadata === null) return undefined;
    const { api } = this;
    for (let attempt = 0; ; attempt++) {
      // Sizes are in WCHARs here, not bytes.
      const chars = this.messageBuf.length >>> 1;
      if (api.EvtFormatMessage(metadata, event, 0, 0, null, EVT_FORMAT_MESSAGE_EVENT, chars, this.messageBuf, this.used) !== 0) {
        return utf16(this.messageBuf, this.used[0]! * 2);
      }
      const code = loadKernel32().GetLastError();
      if (code !== WIN32_ERROR.INSUFFICIENT_BUFFER || attempt > 0) return undefined;
      this.messageBuf = Buffer.allocUnsafe(grow(this.messageBuf.length, this.used[0]! * 2));
    }
  }

  /** The provider's metadata handle, opened once per subscription; null when the provider has none. */
  private publisher(provider: string): EvtHandle | null {
    const hit = this.publishers.get(provider);
    if (hit !== undefined) return hit;
    const h = this.api.EvtOpenPublisherMetadata(null, provider, null, 0, 0);
    const metadata = h === null || h === 0n ? null : h;
    this.publishers.set(provider, metadata);
    return metadata;
  }

  wait(timeoutMs: number): Promise<EventLogWaitResult> {
    if (this.closed) return Promise.resolve('closed');
    if (this.waiting !== undefined) return Promise.reject(new Error('EventLogSubscription.wait: a wait is already under way'));
    // Below INFINITE (0xFFFFFFFF): a wait always ends.
    const ms = Math.min(0xffff_fffe, Math.max(0, Math.floor(timeoutMs)));
    return new Promise<EventLogWaitResult>((resolve) => {
      const settle = (r: EventLogWaitResult): void => {
        this.waiting = undefined;
        resolve(r);
      };
      if (this.waitMode === 'thread-pool') {
        // Nothing of Node's is pending while the Windows thread pool waits: this timer keeps the
        // event loop alive until the wait ends, as a pending read on a socket would.
        // The pool's callback reaches the JS thread through the event loop, so never before this
        // function returns: the timer is made only once the wait is registered.
        const done = (r: EventLogWaitResult): void => {
          clearInterval(keepAlive);
          settle(r);
        };
        const cancel = this.signal.waitInThreadPool(ms, (timedOut) => done(timedOut ? 'timeout' : 'signaled'));
        const keepAlive = setInterval(() => undefined, 0x7fff_ffff);
        this.waiting = { resolve: done, cancel };
        return;
      }
      const deadline = Date.now() + ms;
      let cancelled = false;
      this.waiting = { resolve: settle, cancel: () => (cancelled = true) };
      const slice = (): void => {
        this.asyncInFlight = true;
        this.signal.waitAsync(Math.min(MAX_ASYNC_WAIT_MS, Math.max(0, deadline - Date.now()))).then((result) => {
          this.asyncInFlight = false;
          if (this.closed) {
            this.signal.close();
            return;
          }
          if (cancelled) return;
          if (result === WAIT.OBJECT_0) settle('signaled');
          else if (result === WAIT.TIMEOUT && Date.now() < deadline) slice();
          else settle('timeout');
        }, () => undefined);
      };
      slice();
    });
  }

  /** After `close`, the bookmark as rendered when it closed. */
  bookmark(): string | undefined {
    if (!this.hasBookmark || this.closed) return this.bookmarkXml;
    this.bookmarkXml ??= this.render(this.bookmarkHandle, EVT_RENDER.BOOKMARK, 'EvtRender(bookmark)');
    return this.bookmarkXml;
  }

  close(): void {
    if (this.closed) return;
    if (this.hasBookmark && this.bookmarkXml === undefined) {
      try {
        this.bookmarkXml = this.render(this.bookmarkHandle, EVT_RENDER.BOOKMARK, 'EvtRender(bookmark)');
      } catch {
        // Without it, bookmark() after close gives the position last rendered: a new subscription reads the events since again.
      }
    }
    this.closed = true;
    const { api } = this;
    const waiting = this.waiting;
    this.waiting = undefined;
    try {
      api.EvtClose(this.subscription);
      api.EvtClose(this.bookmarkHandle);
      for (const h of this.publishers.values()) if (h !== null) api.EvtClose(h);
      this.publishers.clear();
    } finally {
      if (waiting !== undefined) {
        waiting.cancel();
        waiting.resolve('closed');
      }
      if (this.asyncInFlight) {
        // Wake the worker thread's wait; the event is closed when that call returns.
        this.signal.set();
      } else {
        this.signal.close();
      }
    }
  }
}

/** The next buffer size: what the call said it needs, rounded up, and at least double the current. */
function grow(current: number, needed: number): number {
  return Math.max(current * 2, (needed + 4095) & ~4095);
}
