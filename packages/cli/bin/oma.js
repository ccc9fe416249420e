#!/usr/bin/env node
// The `oma` command. The TypeScript sources compile to dist/ during `npm ci` (the root `prepare` script).
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('oma: not built yet; run `npm run build` at the repository root first\n');
  process.exit(1);
}
const { main: run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
