import { join } from 'node:path';
import { errorType } from '../../errors.js';
import type { Source, SourceContext } from '../../pipeline/component.js';
import { RateLimitedLog } from '../../telemetry/logger.js';
import type { CustomLogConfig } from '../custom_log/config.js';
import { CustomLogSource } from '../custom_log/custom-log.js';
import { defaultLogDirectories, type IisLogConfig } from './config.js';
import { w3cRecordFormat, type FileRef, type W3cDropReason, type W3cEvents } from './w3c.js';

/** The file patterns the tail engine watches: every file pattern in every log directory. */
export function iisFilePatterns(config: Pick<IisLogConfig, 'logDirectories' | 'filePatterns'>, hostOs: NodeJS.Platform): string[] {
  const dirs = config.logDirectories ?? defaultLogDirectories(hostOs) ?? [];
  return dirs.flatMap((d) => config.filePatterns.map((p) => join(d, p)));
}

/** The custom-log tail engine's options for an `iis_log` source (partial lines are never sent as they are). */
export function tailConfig(config: IisLogConfig, hostOs: NodeJS.Platform): CustomLogConfig {
  return {
    table: config.table,
    filePatterns: iisFilePatterns(config, hostOs),
    excludePatterns: [],
    excludeCompressed: true,
    startAt: config.startAt,
    recordStartTimestampFormat: undefined,
    maxLineBytes: config.maxLineBytes,
    // Not used: the W3C format keeps a partial last line until its newline comes.
    partialLineFlushMs: config.rotateWaitMs,
    maxBatchRecords: config.maxBatchRecords,
    maxBatchBytes: config.maxBatchBytes,
    readBufferBytes: config.readBufferBytes,
    rotateWaitMs: config.rotateWaitMs,
    scanIntervalMs: config.scanIntervalMs,
    pollIntervalMs: config.pollIntervalMs,
  };
}

/** What the W3C parser reports, as metrics and (rate-limited) log lines of the source. */
class W3cReports implements W3cEvents {
  private readonly rate = new RateLimitedLog();
  private readonly unknown = new Set<string>();

  constructor(private readonly ctx: SourceContext) {}

  dropped(file: FileRef, reason: W3cDropReason, detail: Record<string, unknown>): void {
    this.ctx.metrics.recordsDropped.inc({ ...this.ctx.labels, reason: `w3c_${reason}` });
    const suppressed = this.rate.admit(`dropped:${reason}:${file.origin}`);
    if (suppressed < 0) return;
    const fields = { path: file.path, reason, ...detail };
    this.ctx.log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, 'W3C log line malformed; dropped');
  }

  unknownField(file: FileRef, name: string): void {
    if (this.unknown.has(name)) return;
    this.unknown.add(name);
    this.ctx.log.info({ path: file.path, field: name }, 'W3C field has no W3CIISLog column; ignored');
  }

  resumeFailed(file: FileRef, err: unknown): void {
    this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'resume' });
    this.ctx.log.warn({ err, path: file.path }, 'W3C header before the saved position not readable; lines are dropped until the next #Fields');
  }
}

/**
 * IIS W3C logs into W3CIISLog (docs/iis-logs.md): the custom-log tail engine (file discovery, rotation,
 * checkpoints, backpressure) with the W3C parser as its per-record step.
 */
export function createIisLogSource(config: IisLogConfig, ctx: SourceContext, hostOs: NodeJS.Platform): Source {
  const format = w3cRecordFormat(ctx.host.computer, new W3cReports(ctx), config.maxLineBytes);
  return new CustomLogSource(tailConfig(config, hostOs), ctx, format);
}
