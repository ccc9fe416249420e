/**
 * `npm run bench` (nx target `bench` of wine-tests): events/s through the real koffi wevtapi binding
 * and the test-double wevtapi.dll under Wine, with and without message rendering, and peak RSS of
 * the Wine node.exe process. Prints a table and writes bench-results/wine-event-log.json. Without
 * wine on PATH it says so and does nothing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { BenchArgs, BenchResult } from './scenarios/bench-event-log.js';
import type { WaitBenchArgs, WaitBenchResult } from './scenarios/bench-wait.js';
import { prepareWine, runScenario, stopWineserver, winePaths } from './wine.js';

function hasWine(): boolean {
  try {
    execFileSync('wine', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const CASES: (BenchArgs & { name: string })[] = [
  { name: 'XML, no messages, batch 256', events: 200_000, batchSize: 256, renderMessages: false, dataChars: 200, runs: 3, map: false },
  { name: 'XML + messages, batch 256', events: 200_000, batchSize: 256, renderMessages: true, dataChars: 200, runs: 3, map: false },
  { name: 'XML, no messages, batch 16', events: 200_000, batchSize: 16, renderMessages: false, dataChars: 200, runs: 3, map: false },
  { name: 'XML 4 KiB events, no messages, batch 256', events: 100_000, batchSize: 256, renderMessages: false, dataChars: 4096, runs: 3, map: false },
];
/** With the windows_event_log source built: the same read, each event mapped to an Event record. */
const MAP_CASES: (BenchArgs & { name: string })[] = [
  { name: 'XML + messages + Event mapping, batch 256', events: 200_000, batchSize: 256, renderMessages: true, dataChars: 200, runs: 3, map: true },
];

async function main(): Promise<void> {
  if (!hasWine()) {
    console.log('wine-tests bench: wine is not on PATH; skipped (Debian 12: apt-get install wine wine64 g++-mingw-w64-x86-64)');
    return;
  }
  const paths = winePaths();
  await prepareWine(paths);
  const rows: { name: string; xmlChars: number; best: number; median: number; peakRssMiB: number; startRssMiB: number; node: string }[] = [];
  const waits: WaitBenchResult[] = [];
  try {
    const mapBuilt = existsSync(join(paths.repo, 'packages', 'agent-windows', 'dist', 'sources', 'windows_event_log', 'map.js'));
    if (!mapBuilt) console.log('wine-tests bench: the windows_event_log source is not built; no Event mapping case');
    for (const c of [...CASES, ...(mapBuilt ? MAP_CASES : [])]) {
      const { name, ...args } = c;
      const r = await runScenario<BenchResult>('bench-event-log', args, { timeoutMs: 600_000 }, paths);
      const rates = r.runs.map((x) => x.eventsPerSec).sort((a, b) => a - b);
      rows.push({
        name,
        xmlChars: r.xmlChars,
        best: rates.at(-1)!,
        median: rates[Math.floor(rates.length / 2)]!,
        peakRssMiB: Math.round((r.peakRssBytes / 1024 / 1024) * 10) / 10,
        startRssMiB: Math.round((r.startRssBytes / 1024 / 1024) * 10) / 10,
        node: r.node,
      });
      console.log(`${name}: ${rates.join(', ')} events/s (XML ${r.xmlChars} chars), peak RSS ${rows.at(-1)!.peakRssMiB} MiB (${rows.at(-1)!.startRssMiB} MiB at start)`);
    }
    for (const mode of ['thread-pool', 'async'] as const) {
      for (const channels of [1, 8]) {
        const args: WaitBenchArgs = { mode, channels, wakeups: 200 };
        const r = await runScenario<WaitBenchResult>('bench-wait', args, { timeoutMs: 600_000 }, paths);
        waits.push(r);
        console.log(`wait ${mode}, ${channels} channels: p50 ${r.latenciesMs.p50} ms, p95 ${r.latenciesMs.p95} ms, max ${r.latenciesMs.max} ms`);
      }
    }
  } finally {
    await stopWineserver(paths);
  }
  console.table(rows);
  console.table(waits.map((w) => ({ mode: w.mode, channels: w.channels, ...w.latenciesMs, timeouts: w.timeouts })));
  const out = join(paths.repo, 'bench-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'wine-event-log.json'), JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, rows, waits }, null, 2));
}

await main();
