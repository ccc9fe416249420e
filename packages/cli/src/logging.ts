import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createRootLogger, type Logger } from '@oma/core';
import { pino, type DestinationStream, type StreamEntry } from 'pino';
import type { PrettyOptions, PrettyStream } from 'pino-pretty';

export interface AgentLogging {
  readonly log: Logger;
  /** Path of the JSON log file, if file logging is on. */
  readonly file: string | undefined;
  /** Called on each failed write to the log file (a full disk, say); the agent counts them. */
  onFileError: (() => void) | undefined;
  flush(): void;
  close(): void;
}

export interface LoggingOptions {
  level: string;
  /** Directory for oma.log; no file when undefined. */
  dir?: string;
  maxFileBytes?: number;
  /** Human-readable lines (stdout is a TTY); JSON otherwise. */
  pretty?: boolean;
  /** How long the log file rests after a write error before it is tried again (default 30 s). */
  fileRetryMs?: number;
  /** Write to stderr (default true; a Windows service has none). */
  console?: boolean;
  /** More destinations, each with its own minimum level (the Windows event log). */
  streams?: readonly StreamEntry[];
}

/**
 * pino-pretty, loaded on first use: only a terminal gets pretty lines, and an agent run as a service
 * (stderr not a TTY) never loads it. A require, not an import, so that setting up logging stays synchronous.
 */
function prettyStream(opts: PrettyOptions): PrettyStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as (o: PrettyOptions) => PrettyStream;
  return pretty(opts);
}

/** Files the agent writes its logs to: its user only (they may quote what it read from root-only logs). */
const LOG_FILE_MODE = 0o600;

/**
 * The log file as a pino destination that never throws and never stops the agent: when a write fails
 * (ENOSPC on a full disk, EIO, a removed directory), the file is closed and the lines go to stderr only
 * (which always gets them too); the failure is reported once on stderr and counted, and the file is
 * opened again on the first line after `retryMs`.
 */
class LogFile implements DestinationStream {
  private sonic: ReturnType<typeof pino.destination> | undefined;
  private failedAt = 0;

  constructor(
    private readonly path: string,
    private readonly retryMs: number,
    private readonly onError: () => void,
  ) {
    this.open();
  }

  private open(): void {
    const s = pino.destination({ dest: this.path, sync: false, mkdir: true, mode: LOG_FILE_MODE });
    s.on('error', (err: Error) => this.failed(s, err));
    this.sonic = s;
  }

  private failed(s: ReturnType<typeof pino.destination>, err: Error): void {
    if (this.sonic !== s) return;
    this.sonic = undefined;
    this.failedAt = Date.now();
    try {
      s.destroy();
    } catch {
      // already closed
    }
    this.onError();
    const line = {
      level: 50,
      time: new Date().toISOString(),
      pid: process.pid,
      path: this.path,
      err: { type: err.name, message: err.message, code: (err as NodeJS.ErrnoException).code },
      retryMs: this.retryMs,
      msg: 'log file write failed; logging to stderr only until it can be written again',
    };
    try {
      process.stderr.write(`${JSON.stringify(line)}\n`);
    } catch {
      // stderr is gone too: nothing left to tell
    }
  }

  write(line: string): void {
    if (!this.sonic) {
      if (Date.now() - this.failedAt < this.retryMs) return;
      this.open();
    }
    this.sonic?.write(line);
  }

  reopen(): void {
    try {
      this.sonic?.reopen();
    } catch (err) {
      if (this.sonic) this.failed(this.sonic, err as Error);
    }
  }

  flushSync(): void {
    try {
      this.sonic?.flushSync();
    } catch {
      // nothing buffered, closing, or the device is full: the lines went to stderr as well
    }
  }

  end(): void {
    try {
      this.sonic?.flushSync();
    } catch {
      // see flushSync
    }
    try {
      this.sonic?.end();
    } catch {
      // already closed
    }
    this.sonic = undefined;
  }
}

/**
 * The one root logger: pretty or JSON on stderr, plus JSON lines in <dataDir>/logs/oma.log, rotated to
 * oma.log.1 when it passes maxFileBytes (checked at start and every minute). A log file that cannot be
 * written never stops the agent (see LogFile).
 */
export function setUpLogging(opts: LoggingOptions): AgentLogging {
  const streams: StreamEntry[] = [...(opts.streams ?? [])];
  if (opts.console !== false) {
    const console: DestinationStream = opts.pretty
      ? prettyStream({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', destination: 2, sync: true })
      : pino.destination({ dest: 2, sync: false });
    streams.push({ level: opts.level as pino.Level, stream: console });
  }
  let file: string | undefined;
  let fileStream: LogFile | undefined;
  let timer: NodeJS.Timeout | undefined;
  const logging: AgentLogging = {
    log: undefined as unknown as Logger,
    file: undefined,
    onFileError: undefined,
    flush: () => fileStream?.flushSync(),
    close: () => {
      if (timer) clearInterval(timer);
      fileStream?.end();
      for (const e of opts.streams ?? []) (e.stream as { end?: () => void }).end?.();
    },
  };
  if (opts.dir) {
    try {
      mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
      file = join(opts.dir, 'oma.log');
    } catch (err) {
      process.stderr.write(`oma: log directory ${opts.dir} cannot be created (${(err as Error).message}); logging to stderr only\n`);
    }
  }
  if (file) {
    const path = file;
    const max = opts.maxFileBytes ?? 10 * 1024 * 1024;
    const rotateIfBig = (): boolean => {
      try {
        if (existsSync(path) && statSync(path).size > max) {
          renameSync(path, `${path}.1`);
          return true;
        }
      } catch {
        // Rotation is best effort: a failure leaves the file growing until the next check.
      }
      return false;
    };
    rotateIfBig();
    const stream = new LogFile(path, opts.fileRetryMs ?? 30_000, () => logging.onFileError?.());
    fileStream = stream;
    streams.push({ level: opts.level as pino.Level, stream });
    timer = setInterval(() => {
      if (rotateIfBig()) stream.reopen();
    }, 60_000);
    timer.unref();
  }
  return Object.assign(logging, { log: createRootLogger({ level: opts.level, destination: pino.multistream(streams) }), file });
}
