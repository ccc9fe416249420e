import type { Batch } from '../../pipeline/batch.js';
import type { Sink, SinkHealth } from '../../pipeline/component.js';
import type { LaneDelivery } from './lane-delivery.js';
import type { RetryCause } from './retry.js';

/**
 * A sink whose delivery is a `LaneDelivery`: the sink sets up its connections in `open` and gives the
 * engine its API; taking batches, stopping and health are the engine's.
 */
export abstract class LaneSink<C extends RetryCause> implements Sink {
  protected abstract readonly delivery: LaneDelivery<C>;

  /** Sets up connections and credentials, once, when the sink starts; throws on bad startup config. */
  protected abstract open(): void;

  start(): Promise<void> {
    return this.delivery.start(() => this.open());
  }

  write(batch: Batch, signal: AbortSignal): Promise<void> {
    return this.delivery.write(batch, signal);
  }

  drained(): void {
    this.delivery.drained();
  }

  stop(signal: AbortSignal): Promise<void> {
    return this.delivery.stop(signal);
  }

  healthcheck(): SinkHealth {
    return this.delivery.healthcheck();
  }
}
