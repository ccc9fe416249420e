/**
 * Reuses large buffers whose owner knows when they are free (a batch once the queues hold it), so that
 * the hot path does not allocate and drop a megabyte per batch: fewer garbage collections and a
 * steadier resident size. Buffers are handed out whole (`length` at least what was asked); a pool
 * keeps at most `max` free buffers, of at most `maxBytes` each.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    private readonly max = 8,
    private readonly maxBytes = 8 * 1024 * 1024,
  ) {}

  /** A buffer of at least `n` bytes (contents undefined). */
  take(n: number): Buffer {
    for (let i = this.free.length - 1; i >= 0; i--) {
      const b = this.free[i]!;
      if (b.length >= n) {
        this.free.splice(i, 1);
        return b;
      }
    }
    return Buffer.allocUnsafe(n);
  }

  /** Gives back a buffer from `take` that nothing refers to any more. */
  give(b: Buffer): void {
    if (b.length > this.maxBytes || this.free.length >= this.max) return;
    this.free.push(b);
  }
}
