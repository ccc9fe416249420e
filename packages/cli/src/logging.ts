import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRootLogger, type Logger } from '@oma/core';
import { pino, type DestinationStream, type StreamEntry } from 'pino';
import pretty from 'pino-pretty';

export interface AgentLogging {
  readonly log: Logger;
  /** Path of the JSON log file, if file logging is on. */
  readonly file: string | undefined;
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
}

/**
 * The one root logger: pretty or JSON on stderr, plus JSON lines in <dataDir>/logs/oma.log, rotated to
 * oma.log.1 when it passes maxFileBytes (checked at start and every minute).
 */
export function setUpLogging(opts: LoggingOptions): AgentLogging {
  const streams: StreamEntry[] = [];
  const console: DestinationStream = opts.pretty
    ? pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', destination: 2, sync: true })
    : pino.destination({ dest: 2, sync: false });
  streams.push({ level: opts.level as pino.Level, stream: console });
  let file: string | undefined;
  let fileStream: ReturnType<typeof pino.destination> | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (opts.dir) {
    mkdirSync(opts.dir, { recursive: true });
    file = join(opts.dir, 'oma.log');
    const max = opts.maxFileBytes ?? 10 * 1024 * 1024;
    const rotateIfBig = (): boolean => {
      try {
        if (existsSync(file!) && statSync(file!).size > max) {
          renameSync(file!, `${file!}.1`);
          return true;
        }
      } catch {
        // Rotation is best effort: a failure leaves the file growing until the next check.
      }
      return false;
    };
    rotateIfBig();
    fileStream = pino.destination({ dest: file, sync: false, mkdir: true });
    streams.push({ level: opts.level as pino.Level, stream: fileStream });
    timer = setInterval(() => {
      if (rotateIfBig()) fileStream?.reopen();
    }, 60_000);
    timer.unref();
  }
  const log = createRootLogger({ level: opts.level, destination: pino.multistream(streams) });
  return {
    log,
    file,
    flush: () => {
      try {
        fileStream?.flushSync();
      } catch {
        // nothing buffered or the stream is closing
      }
    },
    close: () => {
      if (timer) clearInterval(timer);
      try {
        fileStream?.flushSync();
        fileStream?.end();
      } catch {
        // already closed
      }
    },
  };
}
