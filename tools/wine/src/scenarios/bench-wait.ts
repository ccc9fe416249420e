/**
 * Under Wine: how quickly a wait of the wevtapi binding wakes when an event is written, for each wait
 * mode, with `channels` subscriptions waiting at once (an event is appended to one channel at a
 * time, round robin). The `.async` mode holds a libuv pool thread per waiting subscription (4 by
 * default), so with more channels than that the waits queue behind each other.
 */
import { performance } from 'node:perf_hooks';
import { createEventLogBinding, type EventLogWaitMode } from '@oma/windows';
import { eventXml, loadDouble } from './double.js';
import { scenario } from './harness.js';

export interface WaitBenchArgs {
  readonly mode: EventLogWaitMode;
  readonly channels: number;
  readonly wakeups: number;
}

export interface WaitBenchResult {
  readonly mode: EventLogWaitMode;
  readonly channels: number;
  readonly latenciesMs: { p50: number; p95: number; max: number };
  readonly timeouts: number;
}

scenario<WaitBenchArgs, WaitBenchResult>(async (args) => {
  const double = loadDouble();
  double.reset();
  const binding = createEventLogBinding({ waitMode: args.mode });
  const names = Array.from({ length: args.channels }, (_, i) => `Channel-${i}`);
  for (const n of names) double.createChannel(n);
  const subs = names.map((channel) => binding.subscribe({ channel, query: '*', start: 'future', batchSize: 16, renderMessages: false }));
  const latencies: number[] = [];
  let timeouts = 0;
  try {
    // Consume the initial signal of each subscription.
    for (const s of subs) {
      await s.wait(1000);
      s.next();
    }
    const appendedAt = new Map<number, number>();
    const loops = subs.map(async (s, i) => {
      for (;;) {
        const r = await s.wait(5000);
        if (r === 'closed') return;
        if (r === 'timeout') timeouts++;
        s.next();
        const t = appendedAt.get(i);
        if (r === 'signaled' && t !== undefined) {
          latencies.push(performance.now() - t);
          appendedAt.delete(i);
        }
      }
    });
    for (let k = 0; k < args.wakeups; k++) {
      const i = k % subs.length;
      // Write once the previous wake-up of that channel was seen, from a later turn of the loop.
      while (appendedAt.has(i)) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 2));
      appendedAt.set(i, performance.now());
      double.append(names[i]!, 'OMA-Bench', eventXml('OMA-Bench', names[i]!, 1), null);
    }
    while (appendedAt.size > 0) await new Promise((r) => setImmediate(r));
    for (const s of subs) s.close();
    await Promise.all(loops);
  } finally {
    for (const s of subs) s.close();
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 100) / 100;
  return { mode: args.mode, channels: args.channels, latenciesMs: { p50: at(0.5), p95: at(0.95), max: at(1) }, timeouts };
});
