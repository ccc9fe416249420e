import { errorType } from '../../errors.js';
import type { LogRecord } from '../../model/record.js';
import type { Source, SourceContext } from '../../pipeline/component.js';
import type { HeartbeatConfig } from './config.js';

/** Emits one Heartbeat record at start and then every `intervalMs` (docs/protocol-notes.md#table-heartbeat, #heartbeat). */
export class HeartbeatSource implements Source {
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private inFlight: Promise<void> | undefined;

  constructor(private readonly config: HeartbeatConfig, private readonly ctx: SourceContext) {}

  record(): LogRecord {
    const h = this.ctx.host;
    return {
      TimeGenerated: new Date(this.ctx.clock.now()).toISOString(),
      Computer: h.computer,
      Category: this.config.category,
      SCAgentChannel: 'Direct',
      OSType: h.osType,
      OSName: h.osName,
      OSMajorVersion: h.osMajorVersion,
      OSMinorVersion: h.osMinorVersion,
      Version: this.ctx.agentVersion,
      ComputerPrivateIPs: [...h.privateIPs],
    };
  }

  start(): Promise<void> {
    this.beat();
    this.timer = setInterval(() => this.beat(), this.config.intervalMs);
    this.timer.unref();
    return Promise.resolve();
  }

  private beat(): void {
    if (this.inFlight) return; // the previous heartbeat is still waiting for the queue: don't pile up
    let record: LogRecord;
    try {
      record = this.record();
    } catch (err) {
      // This runs in a timer, where nothing may throw: the pipeline stops and restarts the source.
      this.ctx.fail(err);
      return;
    }
    this.inFlight = this.ctx
      .emit({ table: 'Heartbeat', records: [record] }, this.abort.signal)
      .catch((err: unknown) => {
        if (this.abort.signal.aborted) return;
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'emit' });
        this.ctx.log.warn({ err }, 'heartbeat not queued');
      })
      .finally(() => {
        this.inFlight = undefined;
      });
  }

  async stop(_signal: AbortSignal): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.abort.abort(new Error('source stopped'));
    await this.inFlight;
  }
}
