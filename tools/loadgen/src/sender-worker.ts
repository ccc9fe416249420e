import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerTask } from './parallel.js';
import { sendTcp, sendUdp } from './senders.js';

// One share of a parallel send (parallel.ts): sends it and posts its SendResult.
const task = workerData as WorkerTask;
const result = task.kind === 'udp' ? await sendUdp(task.target, task.plan) : await sendTcp(task.target, task.plan);
parentPort?.postMessage(result);
