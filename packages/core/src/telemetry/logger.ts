import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/** Paths pino redacts everywhere: credentials never reach a log line. */
export const REDACT_PATHS = [
  'password',
  'clientSecret',
  'secret',
  'sharedKey',
  'token',
  'access_token',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'proxy.password',
  '*.password',
  '*.clientSecret',
  '*.sharedKey',
];

export interface RootLoggerOptions {
  level?: string;
  /** Where lines go; JSON lines to stdout (asynchronous) when not given. The CLI passes a pretty stream on a TTY. */
  destination?: DestinationStream;
}

/** Creates the one root logger. Only the CLI calls this; components get `ctx.log` children. */
export function createRootLogger(opts: RootLoggerOptions = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (opts.destination) return pino(options, opts.destination);
  return pino(options, pino.destination({ sync: false }));
}

/** A logger that drops everything (tests, tools). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Rate-limits a repeated log line: the first occurrence per key per window is logged, the rest are
 * counted and reported with the next logged occurrence as `suppressed`.
 */
export class RateLimitedLog {
  private readonly seen = new Map<string, { until: number; suppressed: number }>();
  constructor(private readonly windowMs = 10_000, private readonly now: () => number = Date.now) {}

  /** Returns the number suppressed since the last logged line, or -1 when this one must be suppressed. */
  admit(key: string): number {
    const t = this.now();
    const s = this.seen.get(key);
    if (s && t < s.until) {
      s.suppressed++;
      return -1;
    }
    const suppressed = s?.suppressed ?? 0;
    this.seen.set(key, { until: t + this.windowMs, suppressed: 0 });
    return suppressed;
  }
}
