import type { Counter, Gauge, Labels, SourceContext } from '@oma/core';

export type Transport = 'udp' | 'tcp' | 'unix';
export type Format = 'rfc3164' | 'rfc5424' | 'unparsed';
/** Why a message (or part of one) was not stored; `message_truncated` messages are stored cut. */
export type DropReason = 'empty' | 'binary' | 'queue_full' | 'frame_incomplete' | 'framing_error' | 'message_truncated';

const TRANSPORTS: readonly Transport[] = ['udp', 'tcp', 'unix'];
const FORMATS: readonly Format[] = ['rfc3164', 'rfc5424', 'unparsed'];
const REASONS: readonly DropReason[] = ['empty', 'binary', 'queue_full', 'frame_incomplete', 'framing_error', 'message_truncated'];

/** Index of each counter in the tallies. */
const enum Slot {
  Received = 0, // + transport
  Bytes = 3, // + transport
  Parsed = 6, // + format
  Dropped = 9, // + reason
  Filtered = 15,
  Accepted = 16,
  Refused = 17,
  IdleClosed = 18,
  KernelDrops = 19,
  Count = 20,
}

/**
 * The syslog source's counts. The hot path adds to plain numbers; they reach the metrics registry (whose
 * `inc` builds a label key per call) in one go shortly after they change, before every scrape and at stop.
 */
export class SyslogMetrics {
  private readonly tally = new Float64Array(Slot.Count);
  private readonly flushed = new Float64Array(Slot.Count);
  private readonly counters: Array<{ counter: Counter; labels: Labels }> = [];
  private readonly open: Gauge;
  private readonly openLabels: Labels;
  private openConnections = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly unregister: () => void;

  constructor(private readonly ctx: SourceContext) {
    const reg = ctx.registry;
    const l = ctx.labels;
    const received = reg.counter('oma_syslog_received_messages_total', 'Syslog frames received, by transport (before parsing and filtering).');
    const bytes = reg.counter('oma_syslog_received_bytes_total', 'Bytes of syslog frames received, by transport.');
    const parsed = reg.counter('oma_syslog_parsed_messages_total', 'Syslog messages parsed, by format: rfc3164, rfc5424 or unparsed (stored with their raw text).');
    const filtered = reg.counter('oma_syslog_filtered_messages_total', 'Syslog messages not collected because of their facility or level.');
    const accepted = reg.counter('oma_syslog_connections_total', 'TCP connections accepted.');
    const refused = reg.counter('oma_syslog_connections_refused_total', 'TCP connections refused at maxConnections.');
    const idle = reg.counter('oma_syslog_connections_idle_closed_total', 'TCP connections closed after idleTimeoutMs without data.');
    const kernel = reg.counter('oma_syslog_kernel_drops_total', 'Datagrams the kernel dropped on the UDP or unix socket because its receive queue was full.');
    for (const t of TRANSPORTS) this.counters[Slot.Received + TRANSPORTS.indexOf(t)] = { counter: received, labels: { ...l, transport: t } };
    for (const t of TRANSPORTS) this.counters[Slot.Bytes + TRANSPORTS.indexOf(t)] = { counter: bytes, labels: { ...l, transport: t } };
    for (const f of FORMATS) this.counters[Slot.Parsed + FORMATS.indexOf(f)] = { counter: parsed, labels: { ...l, format: f } };
    for (const r of REASONS) this.counters[Slot.Dropped + REASONS.indexOf(r)] = { counter: ctx.metrics.recordsDropped, labels: { ...l, reason: r } };
    this.counters[Slot.Filtered] = { counter: filtered, labels: l };
    this.counters[Slot.Accepted] = { counter: accepted, labels: l };
    this.counters[Slot.Refused] = { counter: refused, labels: l };
    this.counters[Slot.IdleClosed] = { counter: idle, labels: l };
    this.counters[Slot.KernelDrops] = { counter: kernel, labels: l };
    this.open = reg.gauge('oma_syslog_open_connections', 'TCP connections open now.');
    this.openLabels = l;
    this.open.set(l, 0);
    this.unregister = reg.onCollect(() => this.flush());
  }

  received(t: number, bytes: number): void {
    this.tally[Slot.Received + t]! += 1;
    this.tally[Slot.Bytes + t]! += bytes;
    this.dirty();
  }

  parsed(format: number): void {
    this.tally[Slot.Parsed + format]! += 1;
  }

  dropped(reason: DropReason, n = 1): void {
    this.tally[Slot.Dropped + REASONS.indexOf(reason)]! += n;
    this.dirty();
  }

  filtered(): void {
    this.tally[Slot.Filtered]! += 1;
  }

  connectionOpened(): void {
    this.tally[Slot.Accepted]! += 1;
    this.openConnections++;
    this.dirty();
  }

  connectionClosed(): void {
    // A source that joined a shared listener later was told of the connections open then (adoptConnections).
    if (this.openConnections > 0) this.openConnections--;
    this.dirty();
  }

  /** Connections already open on a shared listener this source joins (not counted as accepted), or less those it leaves open (n < 0). */
  adoptConnections(n: number): void {
    this.openConnections = Math.max(0, this.openConnections + n);
    this.dirty();
  }

  refused(): void {
    this.tally[Slot.Refused]! += 1;
    this.dirty();
  }

  idleClosed(): void {
    this.tally[Slot.IdleClosed]! += 1;
    this.dirty();
  }

  kernelDrops(n: number): void {
    if (n <= 0) return;
    this.tally[Slot.KernelDrops]! += n;
    this.dirty();
  }

  /** Index of a transport for `received`. */
  static transport(t: Transport): number {
    return TRANSPORTS.indexOf(t);
  }

  /** Index of a format for `parsed`. */
  static format(f: Format): number {
    return FORMATS.indexOf(f);
  }

  private dirty(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, 20);
    this.timer.unref();
  }

  /** Moves the counts into the registry. */
  flush(): void {
    for (let i = 0; i < this.tally.length; i++) {
      const d = this.tally[i]! - this.flushed[i]!;
      if (d > 0) {
        this.counters[i]!.counter.inc(this.counters[i]!.labels, d);
        this.flushed[i] = this.tally[i]!;
      }
    }
    this.open.set(this.openLabels, this.openConnections);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
    this.unregister();
  }
}
