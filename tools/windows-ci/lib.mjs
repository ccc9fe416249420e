// Helpers of the Windows CI scenarios (tools/windows-ci/*.mjs): they run on a Windows machine, elevated
// (GitHub's windows-latest runner is), after `npm ci` and `npm run build`, and drive the built `oma`.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OMA_JS = join(REPO, 'packages', 'cli', 'bin', 'oma.js');
const require = createRequire(join(REPO, 'package.json'));

/** Fails the scenario with a message. */
export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

export function step(text) {
  process.stdout.write(`\n== ${text}\n`);
}

/** A scratch directory removed at exit unless OMA_CI_KEEP is set (a failed run's logs stay in the job's log). */
export function scratch(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => {
    if (!process.env.OMA_CI_KEEP) rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Runs PowerShell; returns its stdout; throws with its stderr when it fails. */
export function powershell(script) {
  const r = spawnSync('powershell.exe', ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`powershell failed (${r.status}): ${r.stderr || r.stdout}\n${script}`);
  return r.stdout;
}

/** Runs a program; returns { status, stdout, stderr }. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** `oma ARGS` with this Node.js (or `node` and `omaJs` given, e.g. the zip's node.exe). */
export function oma(args, { node = process.execPath, omaJs = OMA_JS } = {}) {
  return run(node, [omaJs, ...args]);
}

/** Polls `fn` until it returns a truthy value; throws after `timeoutMs` with `what`. */
export async function waitFor(fn, timeoutMs, what, intervalMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await delay(intervalMs);
  }
}

/**
 * `oma run --config FILE` in the background, its output in files (node.exe's output breaks on some
 * pipes). `stop()` ends it (on Windows a kill is TerminateProcess: a crash, which is what the
 * restart checks want: positions are saved only once the queue holds the batch).
 */
export function startAgent(configFile, dir, name = 'agent') {
  const outFile = join(dir, `${name}-${Date.now()}.log`);
  const out = createWriteStream(outFile);
  const child = spawn(process.execPath, [OMA_JS, 'run', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  let exited = false;
  const done = new Promise((resolve) => child.on('exit', (code) => ((exited = true), resolve(code))));
  return {
    pid: child.pid,
    output: () => (existsSync(outFile) ? readFileSync(outFile, 'utf8') : ''),
    exited: () => exited,
    async stop() {
      if (!exited) child.kill();
      await done;
      out.end();
    },
  };
}

/** Rows of a local workspace database (read-only, beside the running server): `SELECT ...` with parameters. */
export function query(dataDir, sql, ...params) {
  const Database = require('better-sqlite3');
  const file = join(dataDir, 'local-workspace', 'workspace.db');
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params);
  } catch (err) {
    if (/no such table/.test(err.message)) return [];
    throw err;
  } finally {
    db.close();
  }
}

/** Imports a built module of the repository by its path under the repository (`packages/agent-windows/dist/...`). */
export function importBuilt(path) {
  return import(pathToFileURL(join(REPO, path)).href);
}

/** A data collection rule with these data sources, all sent to one workspace. */
export function dcr(dataSources, streams) {
  return {
    location: 'westeurope',
    properties: {
      dataSources,
      destinations: { logAnalytics: [{ name: 'law', workspaceResourceId: '/subscriptions/0/resourceGroups/ci/providers/Microsoft.OperationalInsights/workspaces/ci' }] },
      dataFlows: streams.map((s) => ({ streams: [s], destinations: ['law'] })),
    },
  };
}

/** An agent config: the rule's sources into the embedded local workspace, logs in DIR\data\logs. */
export function agentConfig(dir, ruleFile, extra = []) {
  return [
    `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
    'statusIntervalMs: 0',
    'observability: { enabled: false }',
    `dataCollectionRule: { file: ${JSON.stringify(ruleFile)} }`,
    ...extra,
    'sources:',
    '  heartbeat: { type: heartbeat }',
    'destinations:',
    '  local: { type: local_workspace }',
    '',
  ].join('\n');
}

/** Runs `main` and sets the exit code: 0 when it resolves, 1 with the error when it throws. */
export function runMain(main) {
  main().then(
    () => {
      process.stdout.write('\nOK\n');
    },
    (err) => {
      process.stderr.write(`\nFAILED: ${err.stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
}
