import { type Clock, systemClock } from '../../ports/clock.js';
import type { Logger } from '../../telemetry/logger.js';
import type { DcrLoadResult } from './dcr-source.js';

export interface DcrWatcherOptions {
  readonly source: { load(signal?: AbortSignal): Promise<DcrLoadResult> };
  /** Time between two loads; 0 turns the watcher off. */
  readonly intervalMs: number;
  /** Called with each load that gives a changed document; the next poll waits for it. */
  readonly onChange: (result: DcrLoadResult) => Promise<void>;
  readonly log: Logger;
  readonly clock?: Clock;
}

/** Polls a data collection rule source and reports changes, one load at a time. */
export class DcrWatcher {
  private readonly ac = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: DcrWatcherOptions) {}

  start(): void {
    if (this.loop || this.opts.intervalMs <= 0) return;
    this.loop = this.run();
  }

  /** Stops polling; the returned promise settles when a load or change in progress is over. */
  stop(): Promise<void> {
    this.ac.abort();
    return this.loop ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    const clock = this.opts.clock ?? systemClock;
    const signal = this.ac.signal;
    while (!signal.aborted) {
      try {
        await clock.sleep(this.opts.intervalMs, signal);
      } catch {
        return;
      }
      try {
        const r = await this.opts.source.load(signal);
        if (signal.aborted) return;
        if (r.changed) await this.opts.onChange(r);
      } catch (err) {
        // Never let a failed poll end the loop: the next one tries again.
        this.opts.log.warn({ err }, 'data collection rule poll failed');
      }
    }
  }
}
