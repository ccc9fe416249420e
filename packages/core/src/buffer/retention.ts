import { isNoSpace } from './fs-util.js';
import { sameLedger, writeLedger, type LedgerState } from './ledger.js';
import { asError, type QueueState } from './queue-state.js';
import type { Segment } from './segment.js';

/**
 * The ledger is rewritten at most this often while acknowledgements flow (and on flush/close). Short:
 * after a crash, the entries acknowledged since the last rewrite are sent again. Rewrites that only move
 * the acknowledged mark are not fsynced (a process crash keeps them; a machine crash at worst sends
 * again what they covered); those that precede a segment deletion, a flush or a close are.
 */
const LEDGER_INTERVAL_MS = 20;
/**
 * Acknowledged segments are deleted (behind an fsynced ledger) at most this often, unless appends wait
 * for the space or the queue is flushed.
 */
const DELETE_INTERVAL_MS = 200;

/**
 * What leaves the durable queue: whole segments dropped by the drop_oldest policy or the age policy
 * (counted and logged), and the housekeeping that persists the positions in the ledger and then
 * deletes the segments every record of which is acknowledged.
 */
export class Retention {
  private hkTimer: NodeJS.Timeout | undefined;
  private expiryTimer: AbortController | undefined;
  private hkQueued: Promise<void> | undefined;
  private hkChain: Promise<void> = Promise.resolve();
  private hkForce = false;
  private hkUrgent = false;
  private lastDeleteAt = -Infinity;
  ledgerOnDisk: LedgerState | undefined;
  /** Segments taken out of `segments`, waiting to be unlinked after the next ledger write. */
  private doomed: Segment[] = [];

  constructor(private readonly s: QueueState) {}

  /** appendedAt below which records have expired (-Infinity without an age policy). */
  expiryCutoff(): number {
    const maxAge = this.s.opts.maxAgeMs ?? 0;
    return maxAge > 0 ? this.s.clock.now() - maxAge : -Infinity;
  }

  /** drop_oldest and the age policy: removes a whole segment, acknowledged or not. */
  dropSegment(seg: Segment, reason: 'full' | 'no_space' | 'expired'): void {
    const i = this.s.segments.indexOf(seg);
    if (i >= 0) this.s.segments.splice(i, 1);
    seg.dropped = true;
    this.s.diskBytes -= seg.size;
    // Entries already handed to the reader count as lost too: the sink may still deliver them from
    // memory, but nothing stored backs them any more (a stop before then loses them).
    const entries = seg.index.liveCount();
    const n = seg.index.liveRecords();
    this.s.unacked -= entries;
    this.s.unackedRecords -= n;
    this.doomed.push(seg);
    // Everything up to the end of the oldest segment is now acknowledged or gone.
    if (seg.lastSeq > this.s.ackedThrough) this.s.ackedThrough = seg.lastSeq;
    if (this.s.readSeq <= seg.lastSeq) this.s.readSeq = seg.lastSeq + 1;
    this.s.advanceMark();
    this.scheduleHousekeeping(false);
    if (entries > 0) {
      const suppressed = this.s.errorLog.admit(reason);
      if (suppressed >= 0) {
        const fields = { count: n, entries, bytes: seg.size, suppressed, dir: this.s.dir };
        if (reason === 'full') this.s.log.error(fields, 'durable queue full, dropped the oldest records');
        else if (reason === 'no_space') this.s.log.error(fields, 'durable queue device full, dropped the oldest records');
        else this.s.log.error({ ...fields, maxAgeMs: this.s.opts.maxAgeMs }, 'durable queue records older than maxAge dropped');
      }
      this.s.reportDrop(n, reason);
    }
  }

  /** Records dropped by the age policy while reading: logged (rate-limited) and counted. */
  /** `n`: telemetry records. */
  reportExpired(n: number): void {
    const suppressed = this.s.errorLog.admit('expired');
    if (suppressed >= 0) {
      this.s.log.error({ count: n, maxAgeMs: this.s.opts.maxAgeMs, suppressed }, 'durable queue records older than maxAge dropped');
    }
    this.s.reportDrop(n, 'expired');
    this.s.advanceMark();
  }

  /** Age policy: deletes sealed segments, oldest first, whose newest record has expired. */
  private expireSegments(): void {
    const cutoff = this.expiryCutoff();
    for (;;) {
      const seg = this.s.segments[0];
      if (!seg || seg === this.s.active || seg.state !== 'sealed' || seg.index.count === 0) return;
      if (seg.index.appendedAt(seg.index.count - 1) >= cutoff) return;
      this.dropSegment(seg, 'expired');
    }
  }

  scheduleExpiry(): void {
    const maxAge = this.s.opts.maxAgeMs ?? 0;
    if (maxAge <= 0 || this.s.closing) return;
    const stop = new AbortController();
    this.expiryTimer = stop;
    this.s.clock
      .sleep(Math.min(60_000, Math.max(100, Math.floor(maxAge / 4))), stop.signal)
      .then(() => {
        this.expiryTimer = undefined;
        if (this.s.closing) return;
        try {
          this.expireSegments();
        } catch (err) {
          this.s.log.error({ err }, 'durable queue age check failed');
        }
        this.scheduleExpiry();
      })
      .catch(() => undefined);
  }

  // ---------------------------------------------------------------- housekeeping: ledger and deletions

  scheduleHousekeeping(urgent: boolean): void {
    if (this.s.closed) return;
    if (urgent) {
      if (this.hkTimer) {
        clearTimeout(this.hkTimer);
        this.hkTimer = undefined;
      }
      this.hkUrgent = true;
      this.housekeep(false).catch(() => undefined);
      return;
    }
    if (this.hkTimer || this.hkQueued) return;
    this.hkTimer = setTimeout(() => {
      this.hkTimer = undefined;
      this.housekeep(false).catch(() => undefined);
    }, LEDGER_INTERVAL_MS);
    this.hkTimer.unref();
  }

  /** Writes the ledger if it changed (always when `force`), then deletes acknowledged segments. */
  housekeep(force: boolean): Promise<void> {
    if (force) this.hkForce = true;
    if (this.hkQueued) return this.hkQueued;
    const run = this.hkChain.then(() => {
      this.hkQueued = undefined;
      return this.housekeepOnce();
    });
    this.hkQueued = run;
    this.hkChain = run.catch(() => undefined);
    return run;
  }

  private async housekeepOnce(): Promise<void> {
    const force = this.hkForce;
    const urgent = this.hkUrgent;
    this.hkForce = false;
    this.hkUrgent = false;
    const now = performance.now();
    const deleting = force || urgent || now - this.lastDeleteAt >= DELETE_INTERVAL_MS;
    if (deleting) this.lastDeleteAt = now;
    else if (this.s.segments[0]?.state === 'sealed' && this.s.segments[0].lastSeq <= this.s.ackedThrough) this.scheduleHousekeeping(false);
    // Segments wholly at or below the acked mark go, oldest first.
    while (deleting && this.s.segments.length > 0) {
      const seg = this.s.segments[0]!;
      if (seg.state !== 'sealed' || seg.lastSeq > this.s.ackedThrough) break;
      this.s.segments.shift();
      this.s.diskBytes -= seg.size;
      this.doomed.push(seg);
    }
    const doomed = this.doomed.splice(0);
    const freeing = doomed.length > 0;
    this.s.lostRanges = this.s.lostRanges.filter((r) => r[1] > this.s.ackedThrough);
    const state: LedgerState = {
      ackedThrough: this.s.ackedThrough,
      storedThrough: this.s.storedThrough,
      nextSeq: this.s.nextSeq,
      lost: this.s.lostRanges.map((r) => [Math.max(r[0], this.s.ackedThrough + 1), r[1]] as const),
    };
    let ledgerErr: unknown;
    if (force || doomed.length > 0 || !sameLedger(this.ledgerOnDisk, state)) {
      const sync = force || (doomed.length > 0 && this.s.opts.fsync !== 'never');
      try {
        // The ledger goes first: a deleted segment is always covered by a persisted position.
        await writeLedger(this.s.dir, state, sync);
        this.ledgerOnDisk = state;
      } catch (err) {
        ledgerErr = err;
        if (isNoSpace(err) && doomed.length > 0) {
          // A full device would keep the ledger, and so every deletion, from ever happening: free the
          // oldest acknowledged segment first. A crash before the ledger is written would then report
          // its records as lost although they were delivered: the price of not staying stuck.
          await this.s.removeFile(doomed.shift()!.path);
          try {
            await writeLedger(this.s.dir, state, sync);
            this.ledgerOnDisk = state;
            ledgerErr = undefined;
          } catch (again) {
            ledgerErr = again;
          }
        }
        if (ledgerErr !== undefined) {
          const suppressed = this.s.errorLog.admit('ledger');
          if (suppressed >= 0) this.s.log.error({ err: ledgerErr, suppressed, dir: this.s.dir }, 'durable queue ledger write failed');
        }
      }
    }
    for (const seg of doomed) {
      await this.s.reader.forget(seg);
      await this.s.removeFile(seg.path);
    }
    if (this.s.writer.holding && freeing) await this.s.writer.retrySpace();
    this.s.writer.processBlocked();
    if (ledgerErr !== undefined && force) throw asError(ledgerErr);
  }

  /** Closing: no more scheduled housekeeping or age checks. */
  stopTimers(): void {
    if (this.hkTimer) clearTimeout(this.hkTimer);
    this.hkTimer = undefined;
    this.expiryTimer?.abort();
    this.expiryTimer = undefined;
  }

  /** Resolves once the housekeeping runs queued so far have finished. */
  idle(): Promise<void> {
    return this.hkChain;
  }
}
