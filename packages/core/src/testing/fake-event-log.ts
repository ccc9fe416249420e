import {
  WIN32_ERROR,
  Win32Error,
  type EventLogBinding,
  type EventLogEvent,
  type EventLogSubscribeOptions,
  type EventLogSubscription,
  type EventLogWaitResult,
} from '../ports/event-log.js';

/** An event a test writes into a channel: its XML as EvtRender gives it, and optionally its formatted message. */
export interface EventLogTestEvent {
  readonly xml: string;
  readonly message?: string;
}

/** What `eventLogTestXml` builds an event from. */
export interface EventLogTestEventSpec {
  readonly provider: string;
  readonly eventId: number;
  /** 0 LogAlways, 1 Critical, 2 Error, 3 Warning, 4 Information, 5 Verbose. */
  readonly level: number;
  readonly task?: number;
  /** Keywords as written in the XML (`0x80000000000000`). */
  readonly keywords?: string;
  /** ISO 8601 time (default 2026-01-01T00:00:00.0000000Z). */
  readonly time?: string;
  /** `<Data>` values of `<EventData>`. */
  readonly data?: readonly string[];
  readonly computer?: string;
}

const EVENT_NS = 'http://schemas.microsoft.com/win/2004/08/events/event';

/** Escapes text for XML content or a single- or double-quoted attribute. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === "'" ? '&apos;' : '&quot;'));
}

/**
 * The XML of a simple event of `channel`, shaped as EvtRender renders one (single-quoted attributes,
 * no whitespace between elements). Its EventRecordID is 0: the channel that takes it numbers it.
 */
export function eventLogTestXml(channel: string, e: EventLogTestEventSpec): string {
  const data = (e.data ?? []).map((d) => `<Data>${xmlEscape(d)}</Data>`).join('');
  return (
    `<Event xmlns='${EVENT_NS}'><System><Provider Name='${xmlEscape(e.provider)}'/>` +
    `<EventID Qualifiers='0'>${e.eventId}</EventID><Version>0</Version><Level>${e.level}</Level>` +
    `<Task>${e.task ?? 0}</Task><Opcode>0</Opcode><Keywords>${e.keywords ?? '0x80000000000000'}</Keywords>` +
    `<TimeCreated SystemTime='${e.time ?? '2026-01-01T00:00:00.0000000Z'}'/><EventRecordID>0</EventRecordID>` +
    `<Correlation/><Execution ProcessID='0' ThreadID='0'/><Channel>${xmlEscape(channel)}</Channel>` +
    `<Computer>${xmlEscape(e.computer ?? 'test-host')}</Computer><Security/></System>` +
    `<EventData>${data}</EventData></Event>`
  );
}

/** The bookmark XML of one channel position, as EvtRender(EvtRenderBookmark) writes it. */
export function eventLogBookmarkXml(channel: string, recordId: number): string {
  return `<BookmarkList>\r\n  <Bookmark Channel='${xmlEscape(channel)}' RecordId='${recordId}' IsCurrent='true'/>\r\n</BookmarkList>`;
}

/** Channel and record id of a bookmark; undefined when `xml` is not a single-channel bookmark. */
export function parseEventLogBookmark(xml: string): { channel: string; recordId: number } | undefined {
  const m = /<Bookmark\s+Channel=(['"])(.*?)\1\s+RecordId=(['"])(\d+)\3/.exec(xml);
  if (!m || !/^\s*<BookmarkList>/.test(xml)) return undefined;
  return { channel: unescapeXml(m[2]!), recordId: Number(m[4]) };
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#\d+);/g, (_, e: string) => {
    switch (e) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

/** The System values the fake's XPath evaluator looks at. */
interface SystemValues {
  readonly level: number;
  readonly eventId: number;
  readonly task: number;
  readonly keywords: bigint;
  readonly provider: string;
}

function systemValues(xml: string): SystemValues {
  const num = (re: RegExp): number => {
    const m = re.exec(xml);
    return m ? Number(m[1]) : 0;
  };
  const kw = /<Keywords>(0x[0-9a-fA-F]+|\d+)<\/Keywords>/.exec(xml);
  const provider = /<Provider\s[^>]*?Name=(['"])(.*?)\1/.exec(xml);
  return {
    level: num(/<Level>(\d+)<\/Level>/),
    eventId: num(/<EventID(?:\s[^>]*)?>(\d+)<\/EventID>/),
    task: num(/<Task>(\d+)<\/Task>/),
    keywords: kw ? BigInt(kw[1]!) : 0n,
    provider: provider ? unescapeXml(provider[2]!) : '',
  };
}

type Predicate = (v: SystemValues) => boolean;

function invalidQuery(detail: string): Win32Error {
  return new Win32Error('EvtSubscribe', WIN32_ERROR.EVT_INVALID_QUERY, detail);
}

/**
 * Compiles the XPath subset data collection rules use: `*`, and `*[System[cond]]` where cond combines
 * `Level=n`, `EventID=n`, `Task=n`, `Provider[@Name='x']` and `band(Keywords,n)` with `and`, `or`,
 * parentheses and the comparisons = != < <= > >=. Anything else is EVT_INVALID_QUERY.
 */
export function compileEventXPath(xpath: string): Predicate {
  const src = xpath.trim();
  if (src === '*') return () => true;
  const m = /^\*\s*\[\s*System\s*\[([\s\S]*)\]\s*\]$/.exec(src);
  if (!m) throw invalidQuery(`unsupported XPath: ${src}`);
  const tokens = m[1]!.match(/\s*(0x[0-9a-fA-F]+|\d+|'[^']*'|"[^"]*"|<=|>=|!=|[=<>()[\],@]|[A-Za-z_][\w-]*)/g);
  const rest = m[1]!.replace(/\s*(0x[0-9a-fA-F]+|\d+|'[^']*'|"[^"]*"|<=|>=|!=|[=<>()[\],@]|[A-Za-z_][\w-]*)/g, '');
  if (!tokens || rest.trim() !== '') throw invalidQuery(`unsupported XPath: ${src}`);
  const toks = tokens.map((t) => t.trim());
  let i = 0;
  const peek = (): string | undefined => toks[i];
  const take = (want?: string): string => {
    const t = toks[i++];
    if (t === undefined || (want !== undefined && t !== want)) throw invalidQuery(`unsupported XPath: ${src}`);
    return t;
  };
  const number = (): bigint => {
    const t = take();
    if (!/^(\d+|0x[0-9a-fA-F]+)$/.test(t)) throw invalidQuery(`expected a number in ${src}`);
    return BigInt(t);
  };
  const compare = (a: bigint, op: string, b: bigint): boolean =>
    op === '=' ? a === b : op === '!=' ? a !== b : op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : op === '>=' ? a >= b : false;
  const primary = (): Predicate => {
    const t = take();
    if (t === '(') {
      const p = orExpr();
      take(')');
      return p;
    }
    if (t === 'Provider') {
      take('[');
      take('@');
      take('Name');
      take('=');
      const lit = take();
      if (!/^['"]/.test(lit)) throw invalidQuery(`expected a string in ${src}`);
      take(']');
      const name = lit.slice(1, -1);
      return (v) => v.provider === name;
    }
    if (t === 'band') {
      take('(');
      take('Keywords');
      take(',');
      const mask = number();
      take(')');
      return (v) => (v.keywords & mask) !== 0n;
    }
    if (t === 'Level' || t === 'EventID' || t === 'Task') {
      const op = take();
      if (!['=', '!=', '<', '<=', '>', '>='].includes(op)) throw invalidQuery(`expected a comparison in ${src}`);
      const n = number();
      const get = t === 'Level' ? (v: SystemValues) => v.level : t === 'EventID' ? (v: SystemValues) => v.eventId : (v: SystemValues) => v.task;
      return (v) => compare(BigInt(get(v)), op, n);
    }
    throw invalidQuery(`unsupported XPath: ${src}`);
  };
  const andExpr = (): Predicate => {
    let p = primary();
    while (peek() === 'and') {
      take();
      const a = p;
      const b = primary();
      p = (v) => a(v) && b(v);
    }
    return p;
  };
  function orExpr(): Predicate {
    let p = andExpr();
    while (peek() === 'or') {
      take();
      const a = p;
      const b = andExpr();
      p = (v) => a(v) || b(v);
    }
    return p;
  }
  const pred = orExpr();
  if (i !== toks.length) throw invalidQuery(`unsupported XPath: ${src}`);
  return pred;
}

/**
 * Compiles what a subscription reads on `channel`: an XPath, or a structured query
 * (`<QueryList><Query Id="0" Path="…"><Select Path="…">…</Select><Suppress Path="…">…</Suppress></Query></QueryList>`)
 * whose Select and Suppress elements of `channel` apply (an event is read when a Select takes it and no Suppress does).
 */
export function compileEventQuery(channel: string, query: string): Predicate {
  if (!/^\s*<QueryList>/.test(query)) return compileEventXPath(query);
  if (!/<\/QueryList>\s*$/.test(query)) throw invalidQuery('structured query not closed');
  const selects: Predicate[] = [];
  const suppresses: Predicate[] = [];
  const re = /<(Select|Suppress)\s+Path=(['"])(.*?)\2\s*>([\s\S]*?)<\/\1>/g;
  let n = 0;
  for (let m = re.exec(query); m; m = re.exec(query)) {
    n++;
    if (unescapeXml(m[3]!).toLowerCase() !== channel.toLowerCase()) continue;
    (m[1] === 'Select' ? selects : suppresses).push(compileEventXPath(unescapeXml(m[4]!)));
  }
  if (n === 0) throw invalidQuery('structured query without a Select');
  return (v) => selects.some((p) => p(v)) && !suppresses.some((p) => p(v));
}

interface StoredEvent {
  readonly recordId: number;
  readonly xml: string;
  readonly message?: string;
  readonly values: SystemValues;
}

interface Channel {
  readonly name: string;
  events: StoredEvent[];
  lastRecordId: number;
  denied: boolean;
  /** Win32 errors the next `next` calls on this channel throw, one each. */
  readonly failures: number[];
  readonly subscriptions: Set<FakeSubscription>;
}

class FakeSubscription implements EventLogSubscription {
  /** Record id after which `next` reads on. */
  private scanFrom: number;
  private mark: number | undefined;
  private signaled: boolean;
  private waiter: ((r: EventLogWaitResult) => void) | undefined;
  closed = false;

  constructor(
    private readonly log: FakeEventLog,
    private readonly channel: Channel,
    private readonly predicate: Predicate,
    private readonly opts: EventLogSubscribeOptions,
    start: number,
    mark: number | undefined,
  ) {
    this.scanFrom = start;
    this.mark = mark;
    this.signaled = channel.events.some((e) => e.recordId > start);
  }

  next(): EventLogEvent[] {
    if (this.closed) return [];
    const ch = this.channel;
    const failure = ch.failures.shift();
    if (failure !== undefined) throw new Win32Error('EvtNext', failure);
    const out: EventLogEvent[] = [];
    let i = ch.events.findIndex((e) => e.recordId > this.scanFrom);
    if (i < 0) i = ch.events.length;
    for (; i < ch.events.length && out.length < this.opts.batchSize; i++) {
      const e = ch.events[i]!;
      this.scanFrom = e.recordId;
      if (!this.predicate(e.values)) continue;
      this.mark = e.recordId;
      out.push(this.opts.renderMessages && e.message !== undefined ? { xml: e.xml, message: e.message } : { xml: e.xml });
    }
    if (i >= ch.events.length) {
      this.scanFrom = Math.max(this.scanFrom, ch.lastRecordId);
      this.signaled = false;
    }
    this.log.nextCalls++;
    return out;
  }

  wait(timeoutMs: number): Promise<EventLogWaitResult> {
    if (this.waiter) throw new Error('one wait at a time');
    if (this.closed) return Promise.resolve('closed');
    if (this.signaled) {
      this.signaled = false;
      return Promise.resolve('signaled');
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => done('timeout'), Math.max(0, timeoutMs));
      timer.unref();
      const done = (r: EventLogWaitResult): void => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (r === 'signaled') this.signaled = false;
        resolve(r);
      };
      this.waiter = done;
    });
  }

  /** New events in the channel: wakes a wait. */
  signal(): void {
    this.signaled = true;
    this.waiter?.('signaled');
  }

  bookmark(): string | undefined {
    return this.mark === undefined ? undefined : eventLogBookmarkXml(this.channel.name, this.mark);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel.subscriptions.delete(this);
    this.waiter?.('closed');
  }
}

/**
 * A scriptable Windows Event Log for tests: channels a test creates and appends events to (numbered
 * 1, 2, … per channel, as EventRecordID), strict bookmarks, the XPath subset of `compileEventXPath`,
 * and the failures the real log gives (channel missing or cleared, access denied, a failed read).
 */
export class FakeEventLog implements EventLogBinding {
  private readonly channels = new Map<string, Channel>();
  /** Every `subscribe` call, in order (failed ones included). */
  readonly subscribed: EventLogSubscribeOptions[] = [];
  /** Calls of `next` on any subscription. */
  nextCalls = 0;
  /** When set, `subscribe` throws it (wevtapi.dll not loadable, say). */
  subscribeError: Error | undefined;

  private channel(name: string): Channel | undefined {
    return this.channels.get(name.toLowerCase());
  }

  /** Creates an empty channel (no-op when it exists). */
  createChannel(name: string): void {
    if (this.channel(name)) return;
    this.channels.set(name.toLowerCase(), { name, events: [], lastRecordId: 0, denied: false, failures: [], subscriptions: new Set() });
  }

  /** Removes a channel (a publisher uninstalled): its subscriptions read nothing more. */
  deleteChannel(name: string): void {
    this.channels.delete(name.toLowerCase());
  }

  /**
   * Appends events to a channel (created when missing). Each gets the next record id, written into
   * its `<EventRecordID>` element. Returns the record ids.
   */
  append(channel: string, events: ReadonlyArray<string | EventLogTestEvent>): number[] {
    this.createChannel(channel);
    const ch = this.channel(channel)!;
    const ids: number[] = [];
    for (const e of events) {
      const ev = typeof e === 'string' ? { xml: e } : e;
      const recordId = ++ch.lastRecordId;
      const xml = ev.xml.replace(/<EventRecordID>\d*<\/EventRecordID>/, `<EventRecordID>${recordId}</EventRecordID>`);
      ch.events.push({ recordId, xml, ...(ev.message !== undefined ? { message: ev.message } : {}), values: systemValues(xml) });
      ids.push(recordId);
    }
    for (const s of ch.subscriptions) s.signal();
    return ids;
  }

  /** Clears a channel (wevtutil cl): its events are gone, record ids go on; bookmarks of them no longer resolve. */
  clear(channel: string): void {
    const ch = this.channel(channel);
    if (ch) ch.events = [];
  }

  /** Denies (or allows again) reading a channel: `subscribe` throws ACCESS_DENIED. */
  denyAccess(channel: string, denied = true): void {
    this.createChannel(channel);
    this.channel(channel)!.denied = denied;
  }

  /** Makes the next `next` call on a subscription of `channel` throw this Win32 error. */
  failNextRead(channel: string, win32: number): void {
    this.channel(channel)?.failures.push(win32);
  }

  /** Open subscriptions of a channel (all channels when omitted). */
  openSubscriptions(channel?: string): number {
    if (channel !== undefined) return this.channel(channel)?.subscriptions.size ?? 0;
    let n = 0;
    for (const ch of this.channels.values()) n += ch.subscriptions.size;
    return n;
  }

  subscribe(opts: EventLogSubscribeOptions): EventLogSubscription {
    this.subscribed.push(opts);
    if (this.subscribeError) throw this.subscribeError;
    const ch = this.channel(opts.channel);
    if (!ch) throw new Win32Error('EvtSubscribe', WIN32_ERROR.EVT_CHANNEL_NOT_FOUND, opts.channel);
    if (ch.denied) throw new Win32Error('EvtSubscribe', WIN32_ERROR.ACCESS_DENIED, opts.channel);
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new Win32Error('EvtNext', WIN32_ERROR.INVALID_PARAMETER, 'batchSize');
    const predicate = compileEventQuery(ch.name, opts.query);
    let start: number;
    let mark: number | undefined;
    if (opts.bookmark !== undefined) {
      const b = parseEventLogBookmark(opts.bookmark);
      if (!b || b.channel.toLowerCase() !== ch.name.toLowerCase()) throw new Win32Error('EvtCreateBookmark', WIN32_ERROR.INVALID_PARAMETER, 'not a bookmark of this channel');
      // Strict: the bookmarked event must still be in the channel.
      if (!ch.events.some((e) => e.recordId === b.recordId)) throw new Win32Error('EvtSubscribe', WIN32_ERROR.NOT_FOUND, opts.channel);
      start = b.recordId;
      mark = b.recordId;
    } else {
      start = opts.start === 'oldest' ? 0 : ch.lastRecordId;
    }
    const sub = new FakeSubscription(this, ch, predicate, opts, start, mark);
    ch.subscriptions.add(sub);
    return sub;
  }
}
