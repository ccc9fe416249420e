#!/usr/bin/env node
// The `oma` command. The TypeScript sources compile to dist/ during `npm ci` (the root `prepare` script).
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

// V8 settings for a long-running agent (docs/architecture.md#memory), set before the agent's code loads. Each
// applies unless node's command line or NODE_OPTIONS sets that option itself.
const given = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
// The young generation keeps its initial size (1 MiB semi-spaces) instead of growing to 16 MiB: more,
// shorter scavenges for 10-15 MiB less peak memory, at the same throughput.
if (!/semi-space/.test(given)) setFlagsFromString('--semi-space-growth-factor=1');
// WebAssembly (undici's HTTP parser) is compiled by the baseline compiler only: optimizing it cost a 30 MiB
// spike at the first request, for a parser that reads a few hundred bytes per call.
if (!/liftoff|wasm-tier/.test(given)) setFlagsFromString('--liftoff-only');

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('oma: not built yet; run `npm run build` at the repository root first\n');
  process.exit(1);
}
const { main: run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
