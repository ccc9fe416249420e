/** Memory smaller than this is never pooled (Node's own pool of small Buffers is 8 KiB). */
const MIN_POOLED_BYTES = 64 * 1024;
/** Free blocks of a pool unused this long are dropped. */
const TRIM_AFTER_MS = 5000;

/**
 * Reuses large buffers whose owner knows when they are free (a batch once the queues hold it, a queue
 * entry once its destination settled it), so that the hot path does not allocate and drop a megabyte
 * per batch: fewer garbage collections (large allocations count as external memory pressure, which
 * forces full collections) and a steadier resident size. `take(n)` returns a Buffer of exactly `n`
 * bytes over pooled memory; `give` takes back a Buffer whose memory nothing refers to any more. The pool
 * keeps at most `max` free blocks of at most `maxBytes` each.
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private trimTimer: NodeJS.Timeout | undefined;
  private used = false;

  constructor(
    private readonly max = 8,
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {}

  /** Free blocks held now (for tests). */
  get size(): number {
    return this.free.length;
  }

  /** A buffer of `n` bytes (contents undefined). */
  take(n: number): Buffer {
    this.used = true;
    for (let i = this.free.length - 1; i >= 0; i--) {
      const ab = this.free[i]!;
      if (ab.byteLength >= n) {
        this.free.splice(i, 1);
        return Buffer.from(ab, 0, n);
      }
    }
    // Rounded up a little, so that a block serves the slightly larger requests that follow.
    return n < MIN_POOLED_BYTES ? Buffer.allocUnsafe(n) : Buffer.from(new ArrayBuffer(n + (n >>> 4)), 0, n);
  }

  /**
   * Gives back the memory of `b` (a Buffer from `take`, or any Buffer over memory of its own that nothing
   * else uses). Small buffers and views into Node's shared pool are ignored.
   */
  give(b: Buffer): void {
    const ab = b.buffer;
    if (!(ab instanceof ArrayBuffer) || ab.byteLength < MIN_POOLED_BYTES || ab.byteLength > this.maxBytes) return;
    if (this.free.length >= this.max || this.free.includes(ab)) return;
    this.free.push(ab);
    this.armTrim();
  }

  /**
   * Drops the free blocks once the pool went unused for a trim interval: an idle agent gives the memory
   * back instead of keeping a burst's worth.
   */
  private armTrim(): void {
    if (this.trimTimer) return;
    this.used = false;
    this.trimTimer = setTimeout(() => {
      this.trimTimer = undefined;
      if (this.used) {
        if (this.free.length > 0) this.armTrim();
        return;
      }
      this.free.length = 0;
    }, TRIM_AFTER_MS);
    this.trimTimer.unref();
  }
}
