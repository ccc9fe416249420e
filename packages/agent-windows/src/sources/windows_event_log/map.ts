import type { LogRecord } from '@oma/core';
import { readEventXml, type EventXmlFields } from './event-xml.js';

/** Resolves a SID (`S-1-5-21-…`) to `DOMAIN\user`; undefined when it cannot. */
export type SidResolver = (sid: string) => string | undefined;

/** What the Event table shows for an event that names no user (as MMA did, and Event Viewer does). */
export const NO_USER = 'N/A';

/**
 * EventLevelName of the Event table for a Windows level, as MMA wrote it: the legacy event types
 * (EVENTLOG_ERROR_TYPE, WARNING, INFORMATION), so Critical (1) is Error, and LogAlways (0) and
 * Verbose (5) are Information.
 */
export function eventLevelName(level: number | undefined): string {
  return level === 1 || level === 2 ? 'Error' : level === 3 ? 'Warning' : 'Information';
}

const TIME_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/;

/**
 * TimeCreated/@SystemTime as ISO 8601 UTC with `Z` and at most 7 fraction digits (the 100 ns ticks
 * Windows keeps; some versions render 9 digits, the last two always 0). A time in another form is
 * parsed and written back; one that does not parse gives `fallback`.
 */
export function normalizeSystemTime(s: string | undefined, fallback: () => string): string {
  if (s === undefined) return fallback();
  const m = TIME_RE.exec(s);
  if (m) return m[2] === undefined ? `${m[1]!}Z` : `${m[1]!}.${m[2].slice(0, 7)}Z`;
  const t = Date.parse(s);
  return Number.isNaN(t) ? fallback() : new Date(t).toISOString();
}

const ESCAPED = /[&<>]/;

function escapeParam(s: string): string {
  return ESCAPED.test(s) ? s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;')) : s;
}

/** ParameterXml as MMA wrote it: each insertion string (payload value) as `<Param>value</Param>`, in order. */
export function parameterXml(fields: EventXmlFields): string {
  let out = '';
  for (const d of fields.data) out += `<Param>${escapeParam(d.value)}</Param>`;
  return out;
}

/** What the mapping needs besides the event. */
export interface EventMapContext {
  /** This host's name, for an event without `<Computer>`. */
  readonly computer: string;
  /** Now, as ISO 8601, for an event without a readable TimeCreated. */
  readonly now: () => string;
  /** SID → DOMAIN\user; without one (or when it cannot resolve), the SID itself. */
  readonly resolveSid?: SidResolver;
}

/**
 * One event (its XML as EvtRender gives it, and its formatted message) as an Event table record:
 * - TimeGenerated: TimeCreated/@SystemTime (ISO 8601, `Z`)
 * - Source: Provider/@EventSourceName when present (the legacy source name MMA showed), else Provider/@Name
 * - EventLog: Channel; Computer: Computer
 * - EventID: EventID & 0xFFFF (the Qualifiers of classic events are not part of it)
 * - EventLevel: Level; EventLevelName: see `eventLevelName`
 * - EventCategory: Task
 * - UserName: Security/@UserID resolved to DOMAIN\user (the SID when it cannot be), `N/A` without one
 * - RenderedDescription: the formatted message (left out when there is none)
 * - ParameterXml: the payload values as `<Param>…</Param>`
 * - EventData: the `<EventData>` or `<UserData>` element as in the event (left out when it has neither)
 */
export function mapEventRecord(xml: string, message: string | undefined, ctx: EventMapContext): LogRecord {
  return eventRecord(readEventXml(xml), message, ctx);
}

/** `mapEventRecord` from fields already read. */
export function eventRecord(f: EventXmlFields, message: string | undefined, ctx: EventMapContext): LogRecord {
  const r: LogRecord = {
    TimeGenerated: normalizeSystemTime(f.systemTime, ctx.now),
    Computer: f.computer || ctx.computer,
    EventLog: f.channel ?? '',
    Source: f.eventSourceName ?? f.provider ?? '',
    EventID: f.eventId === undefined ? 0 : f.eventId & 0xffff,
    EventCategory: f.task ?? 0,
    EventLevel: f.level ?? 0,
    EventLevelName: eventLevelName(f.level),
    UserName: f.userId === undefined || f.userId === '' ? NO_USER : (ctx.resolveSid?.(f.userId) ?? f.userId),
    ParameterXml: parameterXml(f),
  };
  if (message !== undefined) r.RenderedDescription = message;
  if (f.payloadXml !== undefined) r.EventData = f.payloadXml;
  return r;
}

/** EventLevelName of the WindowsEvent table: the level's own name (Critical stays Critical); LogAlways (0) is Information. */
export function windowsEventLevelName(level: number | undefined): string {
  switch (level) {
    case 1:
      return 'Critical';
    case 2:
      return 'Error';
    case 3:
      return 'Warning';
    case 5:
      return 'Verbose';
    default:
      return 'Information';
  }
}

/**
 * The WindowsEvent table's EventData: an object with each named `<Data>` by its name (UserData: each
 * leaf element by its name), unnamed values in a list under `Data`, and the `<Binary>` hex under
 * `Binary`. A name seen again keeps its first value.
 */
export function eventDataObject(f: EventXmlFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let unnamed: string[] | undefined;
  for (const d of f.data) {
    if (d.name === undefined) (unnamed ??= []).push(d.value);
    else if (!Object.prototype.hasOwnProperty.call(out, d.name)) out[d.name] = d.value;
  }
  if (unnamed) out.Data = unnamed;
  if (f.binary !== undefined) out.Binary = f.binary;
  return out;
}

/**
 * One event as a WindowsEvent table record (the columns AMA fills from the event's System element,
 * and EventData parsed per `eventDataObject`). The formatted message has no column in that table.
 */
export function windowsEventRecord(f: EventXmlFields, ctx: EventMapContext): LogRecord {
  const time = normalizeSystemTime(f.systemTime, ctx.now);
  const r: LogRecord = {
    TimeGenerated: time,
    Computer: f.computer || ctx.computer,
    Channel: f.channel ?? '',
    Provider: f.provider ?? '',
    EventID: f.eventId === undefined ? 0 : f.eventId & 0xffff,
    EventLevel: f.level ?? 0,
    EventLevelName: windowsEventLevelName(f.level),
    Task: f.task ?? 0,
    Opcode: String(f.opcode ?? 0),
    Keywords: f.keywords ?? '',
    Version: f.version ?? 0,
    TimeCreated: time,
    EventData: eventDataObject(f),
  };
  if (f.recordId !== undefined) r.EventRecordId = String(f.recordId);
  if (f.activityId !== undefined) r.Correlation = f.activityId;
  if (f.processId !== undefined) r.SystemProcessId = f.processId;
  if (f.threadId !== undefined) r.SystemThreadId = f.threadId;
  if (f.userId !== undefined && f.userId !== '') r.SystemUserId = f.userId;
  return r;
}

const q = JSON.stringify;

/**
 * The Event record of `eventRecord` as its JSON text, written directly (no object made): the same
 * text as `JSON.stringify(eventRecord(f, message, ctx))`, key for key.
 */
export function eventRecordJson(f: EventXmlFields, message: string | undefined, ctx: EventMapContext): string {
  const user = f.userId === undefined || f.userId === '' ? NO_USER : (ctx.resolveSid?.(f.userId) ?? f.userId);
  return (
    `{"TimeGenerated":${q(normalizeSystemTime(f.systemTime, ctx.now))}` +
    `,"Computer":${q(f.computer || ctx.computer)}` +
    `,"EventLog":${q(f.channel ?? '')}` +
    `,"Source":${q(f.eventSourceName ?? f.provider ?? '')}` +
    `,"EventID":${f.eventId === undefined ? 0 : f.eventId & 0xffff}` +
    `,"EventCategory":${f.task ?? 0}` +
    `,"EventLevel":${f.level ?? 0}` +
    `,"EventLevelName":"${eventLevelName(f.level)}"` +
    `,"UserName":${q(user)}` +
    `,"ParameterXml":${q(parameterXml(f))}` +
    (message === undefined ? '' : `,"RenderedDescription":${q(message)}`) +
    (f.payloadXml === undefined ? '' : `,"EventData":${q(f.payloadXml)}`) +
    '}'
  );
}
