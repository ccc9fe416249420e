import { RateLimitedLog } from '@oma/core';
import type { EventLogWriter } from './service-port.js';

/** The event source OMA writes its own events as, in the Application log. */
export const OMA_EVENT_SOURCE = 'OMA';

/**
 * Event ids of OMA's own events (docs/install-windows.md lists them). The message text is the only
 * insertion string, shown as is by the message file the source is registered with.
 */
export const OMA_EVENT_IDS = {
  /** The service started: the agent runs. */
  serviceStarted: 1000,
  /** The service stopped (after a stop request, or a failed start: then an error event came first). */
  serviceStopped: 1001,
  /** A warning of the agent (a degraded or retrying component). */
  warning: 2000,
  /** An error of the agent (data lost, a component stopped). */
  error: 3000,
  /** A fatal error: the agent or the service could not start, or stopped. */
  fatal: 3001,
} as const;

/** Fields of a pino line that are not worth an event's text. */
const SKIPPED = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'v']);
/** Longest message written (ReportEventW takes up to 31,839 characters per string). */
const MAX_MESSAGE_CHARS = 8_000;

export interface EventLogStreamOptions {
  readonly writer: EventLogWriter;
  /** Also write warnings (pino level 40); errors and fatal errors are always written. Default true. */
  readonly warnings?: boolean;
  /** One event per (level, component, message) per window; the next says how many were suppressed. Default 10 s. */
  readonly windowMs?: number;
  readonly now?: () => number;
  /** Called when the writer fails (the event is lost; the line still went to the other destinations). */
  readonly onError?: (err: unknown) => void;
}

function fieldText(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  const err = value as { type?: unknown; message?: unknown; code?: unknown };
  if (typeof err.message === 'string') {
    return `${typeof err.type === 'string' ? `${err.type}: ` : ''}${err.message}${typeof err.code === 'string' || typeof err.code === 'number' ? ` (${err.code})` : ''}`;
  }
  return JSON.stringify(value);
}

/** The text of an event for one pino line: the message, then `key: value` lines for its fields. */
export function eventMessage(entry: Record<string, unknown>): string {
  const lines = [typeof entry.msg === 'string' && entry.msg !== '' ? entry.msg : '(no message)'];
  for (const [key, value] of Object.entries(entry)) {
    if (SKIPPED.has(key) || value === undefined) continue;
    lines.push(`${key}: ${fieldText(value)}`);
  }
  const text = lines.join('\r\n');
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…` : text;
}

/**
 * A pino destination that writes the agent's warnings and errors to the Windows event log. It never
 * throws into the logger: a line it cannot parse or write is dropped (and `onError` told). Repeated
 * lines are rate-limited per level, component and message.
 */
export class EventLogStream {
  private readonly limiter: RateLimitedLog;
  private readonly minLevel: number;
  /** Events not written because the writer failed. */
  failures = 0;

  constructor(private readonly opts: EventLogStreamOptions) {
    this.limiter = new RateLimitedLog(opts.windowMs ?? 10_000, opts.now ?? Date.now);
    this.minLevel = opts.warnings === false ? 50 : 40;
  }

  write(line: string): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const level = typeof entry.level === 'number' ? entry.level : 0;
    if (level < this.minLevel) return;
    const suppressed = this.limiter.admit(`${level}\u0000${fieldText(entry.component ?? '')}\u0000${fieldText(entry.msg ?? '')}`);
    if (suppressed < 0) return;
    const type = level >= 50 ? 'error' : 'warning';
    const eventId = level >= 60 ? OMA_EVENT_IDS.fatal : level >= 50 ? OMA_EVENT_IDS.error : OMA_EVENT_IDS.warning;
    let message = eventMessage(entry);
    if (suppressed > 0) message += `\r\n(${suppressed} more like this in the last ${Math.round((this.opts.windowMs ?? 10_000) / 1000)} s were not written)`;
    try {
      this.opts.writer.report(type, eventId, message);
    } catch (err) {
      this.failures++;
      try {
        this.opts.onError?.(err);
      } catch {
        // the callback must not reach the logger either
      }
    }
  }

  end(): void {
    try {
      this.opts.writer.close();
    } catch {
      // closing a handle that is gone
    }
  }
}
