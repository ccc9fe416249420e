import { Worker } from 'node:worker_threads';
import type { SendPlan, SendResult, TcpFraming } from './senders.js';

/** What one worker of a parallel send runs (see sender-worker.ts). */
export type WorkerTask =
  | { readonly kind: 'udp'; readonly target: { host: string; port: number }; readonly plan: SendPlan }
  | { readonly kind: 'tcp'; readonly target: { host: string; port: number; framing: TcpFraming }; readonly plan: SendPlan };

/**
 * Splits a UDP or TCP send over `workers` threads (one socket or connection each; one Node socket sends
 * about 150-200k datagrams/s on one core): each takes an equal share of the count and the rate and numbers
 * its messages in its own range, so that the run's sequence numbers stay 0..count-1.
 */
export async function sendParallel(task: WorkerTask, workers: number): Promise<SendResult> {
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new Error('workers must be a whole number from 1 to 64');
  const share = Math.ceil(task.plan.count / workers);
  const runs: Array<Promise<SendResult>> = [];
  for (let i = 0; i < workers; i++) {
    const count = Math.max(0, Math.min(share, task.plan.count - i * share));
    const plan: SendPlan = { ...task.plan, count, ratePerSec: task.plan.ratePerSec / workers, firstSeq: (task.plan.firstSeq ?? 0) + i * share };
    runs.push(new Promise((resolve, reject) => {
      const w = new Worker(new URL('./sender-worker.js', import.meta.url), { workerData: { ...task, plan } satisfies WorkerTask });
      w.once('message', (r: SendResult) => resolve(r));
      w.once('error', reject);
      w.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`sender worker exited ${code}`))));
    }));
  }
  const results = await Promise.all(runs);
  const elapsedSec = Math.max(...results.map((r) => r.elapsedSec));
  const sent = results.reduce((a, r) => a + r.sent, 0);
  return {
    sent,
    bytes: results.reduce((a, r) => a + r.bytes, 0),
    errors: results.reduce((a, r) => a + r.errors, 0),
    elapsedSec,
    achievedRate: elapsedSec > 0 ? sent / elapsedSec : 0,
  };
}
