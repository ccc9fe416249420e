import { performance } from 'node:perf_hooks';
import { errorType } from '../../errors.js';
import type { SourceContext } from '../../pipeline/component.js';
import { RateLimitedLog } from '../../telemetry/logger.js';
import type { TailedFile } from './tailed-file.js';

/** How the source counts its errors and logs warnings: rate-limited per key (one line per 10 s plus a suppressed count). */
export class Problems {
  private readonly rate = new RateLimitedLog();

  /** `retryAfterMs`: how long a file whose read failed is left alone (the scan interval). */
  constructor(private readonly ctx: SourceContext, private readonly retryAfterMs: number) {}

  countError(err: unknown, stage: string): void {
    this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage });
  }

  warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const suppressed = this.rate.admit(key);
    if (suppressed < 0) return;
    this.ctx.log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }

  /** A file's read failed: counted, logged, and the file is left alone for a while. */
  fileFailed(f: TailedFile, err: unknown, stage: string): void {
    this.countError(err, stage);
    this.warn(`file:${stage}:${errorType(err)}`, { err, path: f.path }, 'file read failed; retrying later');
    f.retryAt = performance.now() + this.retryAfterMs;
  }
}
