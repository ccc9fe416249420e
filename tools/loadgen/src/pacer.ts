/**
 * Paces a sender at `ratePerSec` messages per second (0: as fast as the target takes them): `take(max)`
 * resolves with how many messages may go now, at least one, waiting until the next one is due. Over a
 * run the average rate is exact; within a millisecond the messages leave in a burst.
 */
export class Pacer {
  private readonly start = process.hrtime.bigint();
  private granted = 0;

  constructor(private readonly ratePerSec: number) {}

  /** Seconds since the pacer was made. */
  elapsedSec(): number {
    return Number(process.hrtime.bigint() - this.start) / 1e9;
  }

  async take(max: number): Promise<number> {
    if (this.ratePerSec <= 0) {
      this.granted += max;
      return max;
    }
    for (;;) {
      const due = Math.floor(this.elapsedSec() * this.ratePerSec) - this.granted;
      if (due > 0) {
        const n = Math.min(max, due);
        this.granted += n;
        return n;
      }
      const waitMs = ((this.granted + 1) / this.ratePerSec - this.elapsedSec()) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(1, Math.ceil(waitMs))));
    }
  }
}
