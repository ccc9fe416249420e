import {
  EncodedBatchBuilder,
  emitUntilQueued,
  JSON_FORMAT_CODE,
  RateLimitedLog,
  WIN32_ERROR,
  errorType,
  isWin32Error,
  type CheckpointLoad,
  type EncodedBatch,
  type EventLogBinding,
  type EventLogEvent,
  type EventLogSubscription,
  type Source,
  type SourceContext,
} from '@oma/core';
import type { WindowsEventLogConfig } from './config.js';
import { readEventXml } from './event-xml.js';
import { eventRecordJson, windowsEventRecord, type EventMapContext, type SidResolver } from './map.js';
import { filterXPath, groupChannelQueries, parseXPathQuery, type ChannelQuery, type XPathQuery } from './query.js';

/** Wait for a channel that cannot be subscribed to (missing, not readable) before trying again. */
export const CHANNEL_RETRY_MS = 60_000;
/** Wait after a failed read before resubscribing from the channel's bookmark. */
export const READ_RETRY_MS = 1000;
/** Longest wait for the subscription's signal before asking for events anyway. */
const WAIT_TIMEOUT_MS = 5000;
/** SIDs resolved kept (a name per SID; few distinct SIDs in practice). */
const SID_CACHE_MAX = 4096;

/** The source's checkpoint: the bookmark of each channel (key: the channel name in lower case). */
interface EventLogCheckpoint {
  readonly bookmarks?: Record<string, string>;
}

function validateCheckpoint(state: Record<string, unknown>): string | undefined {
  const b = state.bookmarks;
  if (b === undefined) return undefined;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return 'bookmarks is not an object';
  for (const [k, v] of Object.entries(b)) if (typeof v !== 'string') return `bookmark of ${k} is not a string`;
  return undefined;
}

/** Why a channel cannot be read, in words, from the Win32 error of its subscription. */
function unavailableReason(err: unknown): string {
  if (isWin32Error(err, WIN32_ERROR.EVT_CHANNEL_NOT_FOUND)) return 'channel not found';
  if (isWin32Error(err, WIN32_ERROR.ACCESS_DENIED)) return 'access denied (reading this channel needs more rights, e.g. Event Log Readers for Security)';
  if (isWin32Error(err, WIN32_ERROR.EVT_INVALID_QUERY)) return 'invalid XPath query';
  return 'subscription failed';
}

/** The queries of a config, grouped per channel: `xPathQueries`, then `channels`. */
export function configChannelQueries(config: WindowsEventLogConfig): ChannelQuery[] {
  const queries: XPathQuery[] = [];
  for (const q of config.xPathQueries ?? []) {
    const parsed = parseXPathQuery(q);
    if (typeof parsed !== 'string') queries.push(parsed);
  }
  for (const c of config.channels ?? []) {
    queries.push({ channel: c.name, xpath: filterXPath(c.levels as Parameters<typeof filterXPath>[0], c.eventIds) });
  }
  return groupChannelQueries(queries);
}

/** One channel's reader: its subscription and what it reports. */
interface ChannelState {
  readonly q: ChannelQuery;
  readonly key: string;
  sub: EventLogSubscription | undefined;
  /** Reason last logged for the channel being unavailable (logged again only when it changes). */
  unavailable: string | undefined;
}

export interface WindowsEventLogSourceDeps {
  /** SID → DOMAIN\user (LookupAccountSidW on Windows); the SID is kept when absent or unresolved. */
  readonly resolveSid?: SidResolver;
}

/**
 * Reads Windows event channels through the `EventLogBinding` port: one subscription per channel
 * (its XPaths merged into one query), events mapped to Event or WindowsEvent records, encoded as JSON
 * and emitted per batch; the channel's bookmark is saved only once the pipeline queued the batch. A channel that
 * cannot be subscribed to is logged once with the reason and tried again every minute while the
 * others run; a bookmark whose event is gone (channel cleared) is reported and the channel read from
 * its oldest event.
 */
export class WindowsEventLogSource implements Source {
  private readonly channels: ChannelState[];
  private readonly bookmarks = new Map<string, string>();
  private savedJson = '{}';
  private saving: Promise<void> | undefined;
  private saveAgain = false;
  private stopping = false;
  private readonly abort = new AbortController();
  /** Aborted at stop: ends the sleeps between retries. */
  private readonly wake = new AbortController();
  private loops: Array<Promise<void>> = [];
  private stopPromise: Promise<void> | undefined;
  private readonly rate: RateLimitedLog;
  private readonly mapCtx: EventMapContext;
  private readonly sids = new Map<string, string | undefined>();
  private idleLogged = false;

  constructor(
    private readonly config: WindowsEventLogConfig,
    private readonly ctx: SourceContext,
    private readonly binding: () => EventLogBinding,
    deps: WindowsEventLogSourceDeps = {},
  ) {
    this.channels = configChannelQueries(config).map((q) => ({ q, key: q.channel.toLowerCase(), sub: undefined, unavailable: undefined }));
    this.rate = new RateLimitedLog(10_000, () => ctx.clock.now());
    const resolve = deps.resolveSid;
    this.mapCtx = {
      computer: ctx.host.computer,
      now: () => new Date(ctx.clock.now()).toISOString(),
      ...(resolve ? { resolveSid: (sid: string) => this.resolveSid(resolve, sid) } : {}),
    };
  }

  /** The channels read and the query of each. */
  get queries(): readonly ChannelQuery[] {
    return this.channels.map((c) => c.q);
  }

  async start(): Promise<void> {
    let loaded: CheckpointLoad;
    try {
      loaded = await this.ctx.checkpoints.load(validateCheckpoint);
    } catch (err) {
      loaded = { state: {}, damage: { reason: `not loaded (${errorType(err)})`, fromBackup: false } };
    }
    if (loaded.damage) {
      this.ctx.log.warn({ reason: loaded.damage.reason, keptAs: loaded.damage.keptAs, fromBackup: loaded.damage.fromBackup }, 'event log checkpoint damaged');
    }
    // Bookmarks of channels no longer read are dropped (at the next save): a channel read again later starts per startAt.
    const configured = new Set(this.channels.map((c) => c.key));
    const saved = (loaded.state as EventLogCheckpoint).bookmarks ?? {};
    for (const [k, v] of Object.entries(saved)) if (configured.has(k)) this.bookmarks.set(k, v);
    this.savedJson = JSON.stringify(saved);
    let binding: EventLogBinding;
    try {
      binding = this.binding();
    } catch (err) {
      if ((err as { code?: unknown }).code === 'OMA_ERR_NATIVE_LOAD') {
        this.idleLogged = true;
        this.ctx.log.error({ err }, 'event log unavailable on this host; windows_event_log source idle');
        return;
      }
      throw err;
    }
    // Each channel reads on its own; a loop that dies is reported (the pipeline starts a new instance).
    this.loops = this.channels.map((c) => this.runChannel(binding, c).catch((err: unknown) => this.ctx.fail(err)));
  }

  stop(signal: AbortSignal): Promise<void> {
    this.stopPromise ??= this.shutdown(signal);
    return this.stopPromise;
  }

  private async shutdown(signal: AbortSignal): Promise<void> {
    this.stopping = true;
    const onAbort = (): void => this.abort.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    // Sleeps end now; a batch being emitted is given up when `signal` aborts (its bookmark not saved).
    this.wake.abort();
    try {
      for (const c of this.channels) c.sub?.close();
      await Promise.all(this.loops);
      await this.saving;
      await this.saveLoop();
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async sleep(ms: number): Promise<void> {
    if (this.stopping) return;
    try {
      await this.ctx.clock.sleep(ms, this.wake.signal);
    } catch {
      // Woken by stop.
    }
  }

  private async runChannel(binding: EventLogBinding, c: ChannelState): Promise<void> {
    while (!this.stopping) {
      let sub: EventLogSubscription | undefined;
      try {
        sub = this.subscribe(binding, c);
      } catch (err) {
        // wevtapi.dll not loadable (the binding loads it at the first subscription): said once, the channel idles.
        if (!this.idleLogged) {
          this.idleLogged = true;
          this.ctx.log.error({ err }, 'event log unavailable on this host; windows_event_log source idle');
        }
        return;
      }
      if (!sub) {
        await this.sleep(CHANNEL_RETRY_MS);
        continue;
      }
      if (this.stopping) {
        sub.close();
        break;
      }
      c.sub = sub;
      try {
        await this.read(c, sub);
      } catch (err) {
        if (this.stopping) break;
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'read' });
        this.warn(`read:${c.key}`, { err, channel: c.q.channel }, 'event log channel read failed; resubscribing from its bookmark');
        await this.sleep(READ_RETRY_MS);
      } finally {
        sub.close();
        c.sub = undefined;
      }
    }
  }

  /**
   * Subscribes to a channel after its bookmark, or per `startAt` without one. A bookmark whose event is
   * gone (the channel was cleared or wrapped) is reported and the channel read from its oldest event.
   * Undefined when the channel cannot be subscribed to (logged once per reason; tried again later);
   * throws only OMA_ERR_NATIVE_LOAD.
   */
  private subscribe(binding: EventLogBinding, c: ChannelState): EventLogSubscription | undefined {
    const base = { channel: c.q.channel, query: c.q.query, batchSize: this.config.batchSize, renderMessages: this.config.renderMessages };
    const bookmark = this.bookmarks.get(c.key);
    let sub: EventLogSubscription;
    try {
      try {
        sub = binding.subscribe({ ...base, start: this.config.startAt, ...(bookmark !== undefined ? { bookmark } : {}) });
      } catch (err) {
        if (bookmark === undefined || !isWin32Error(err, WIN32_ERROR.NOT_FOUND, WIN32_ERROR.INVALID_PARAMETER)) throw err;
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'bookmark' });
        this.ctx.log.warn({ err, channel: c.q.channel }, 'event log bookmark not found (channel cleared or wrapped); reading the channel from its oldest event');
        sub = binding.subscribe({ ...base, start: 'oldest' });
      }
    } catch (err) {
      if ((err as { code?: unknown }).code === 'OMA_ERR_NATIVE_LOAD') throw err;
      this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'subscribe' });
      const reason = unavailableReason(err);
      if (c.unavailable !== reason) {
        c.unavailable = reason;
        this.ctx.log.warn({ err, channel: c.q.channel, reason, retryMs: CHANNEL_RETRY_MS }, 'event log channel unavailable; retrying');
      }
      return undefined;
    }
    if (c.unavailable !== undefined) {
      c.unavailable = undefined;
      this.ctx.log.info({ channel: c.q.channel }, 'event log channel readable again');
    }
    return sub;
  }

  /** Reads a subscription until stop (returns) or a failed read (throws). */
  private async read(c: ChannelState, sub: EventLogSubscription): Promise<void> {
    while (!this.stopping) {
      const events = sub.next();
      if (events.length === 0) {
        if ((await sub.wait(WAIT_TIMEOUT_MS)) === 'closed') return;
        continue;
      }
      const batch = this.encode(events);
      const bookmark = sub.bookmark();
      if (!(await this.emit(batch))) return;
      if (bookmark !== undefined) {
        this.bookmarks.set(c.key, bookmark);
        this.requestSave();
      }
    }
  }

  /**
   * The events as records of the configured table, encoded straight into their JSON wire form (a
   * queue frame laid out in place): no object per record on the way to the queue.
   */
  private encode(events: readonly EventLogEvent[]): EncodedBatch {
    const table = this.config.table;
    let size = 0;
    for (const e of events) size += e.xml.length * 2 + (e.message?.length ?? 0) + 256;
    const b = new EncodedBatchBuilder(table, size, events.length, undefined, { maxRecords: this.config.batchSize });
    for (const e of events) {
      const f = readEventXml(e.xml);
      b.beginRecord();
      b.text(table === 'Event' ? eventRecordJson(f, e.message, this.mapCtx) : JSON.stringify(windowsEventRecord(f, this.mapCtx)));
      b.endRecord();
    }
    return b.finishFrame(JSON_FORMAT_CODE);
  }

  /** Hands a batch to the pipeline, retrying with backoff until it is queued; false when stopping gave it up. */
  private emit(batch: EncodedBatch): Promise<boolean> {
    return emitUntilQueued(batch, {
      ctx: this.ctx,
      signal: this.abort.signal,
      stopping: () => this.stopping,
      sleep: (ms) => this.sleep(ms),
      failed: (err, b) => {
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'emit' });
        this.warn('emit', { err, count: b.count }, 'batch not queued; retrying');
      },
    });
  }

  private resolveSid(resolve: SidResolver, sid: string): string | undefined {
    if (this.sids.has(sid)) return this.sids.get(sid);
    let name: string | undefined;
    try {
      name = resolve(sid);
    } catch (err) {
      this.warn('sid', { err }, 'SID not resolved; the SID is kept');
    }
    if (this.sids.size >= SID_CACHE_MAX) this.sids.clear();
    this.sids.set(sid, name);
    return name;
  }

  private warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const suppressed = this.rate.admit(key);
    if (suppressed < 0) return;
    this.ctx.log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }

  /** Saves the bookmarks soon: one save at a time, the newest state at each. */
  private requestSave(): void {
    if (this.saving) {
      this.saveAgain = true;
      return;
    }
    this.saving = this.saveLoop().finally(() => {
      this.saving = undefined;
    });
  }

  private async saveLoop(): Promise<void> {
    do {
      this.saveAgain = false;
      const bookmarks = Object.fromEntries(this.bookmarks);
      const json = JSON.stringify(bookmarks);
      if (json === this.savedJson) continue;
      try {
        await this.ctx.checkpoints.save({ bookmarks });
        this.savedJson = json;
      } catch (err) {
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'checkpoint' });
        this.warn('checkpoint', { err }, 'event log bookmarks not saved');
      }
    } while (this.saveAgain);
  }
}
