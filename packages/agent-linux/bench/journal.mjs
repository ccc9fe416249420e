// journald read → encode throughput, beside journalctl on the same journal, in one run.
//
//   node packages/agent-linux/bench/journal.mjs [--entries 1000000] [--keep DIR]
//
// Makes a journal of N entries with systemd-journal-remote (from export-format text; it splits its
// output into files of 64 MiB, as journald rotates them), then times, on that directory:
//   - journalctl -D DIR -o export > /dev/null, and -o json > /dev/null (the yardsticks);
//   - the journal addon alone: every entry's fields read into the reader's buffer (no encoding);
//   - the journald source: read → filtered → encoded as Syslog JSON records → handed to a pipeline that
//     only counts them (no queue: the source's own cost).
// Each measurement runs in its own process, so its peak RSS is its own (journalctl's from /usr/bin/time).
// Runs on the built packages (npm run build first). Figures depend on the machine: compare within a run.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const JOURNAL_REMOTE = '/lib/systemd/systemd-journal-remote';
const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const T0 = 1_700_000_000_000_000;
const UNITS = ['nginx.service', 'sshd.service', 'cron.service', 'postgresql.service', 'kernel'];

/** Export-format text of entries [from, to): the fields a journald entry typically has. */
function exportChunk(from, to) {
  let s = '';
  for (let i = from; i < to; i++) {
    const unit = UNITS[i % UNITS.length];
    s += `__REALTIME_TIMESTAMP=${T0 + i * 100}\n__MONOTONIC_TIMESTAMP=${1_000_000 + i * 100}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n`;
    s += `_HOSTNAME=bench-host\nPRIORITY=${i % 8}\nSYSLOG_FACILITY=${i % 24}\n_TRANSPORT=${unit === 'kernel' ? 'kernel' : 'journal'}\n`;
    s += unit === 'kernel' ? 'SYSLOG_IDENTIFIER=kernel\n' : `_SYSTEMD_UNIT=${unit}\nSYSLOG_IDENTIFIER=${unit.replace('.service', '')}\n_PID=${1000 + (i % 5000)}\n_COMM=${unit.slice(0, 6)}\n_UID=0\n`;
    s += `MESSAGE=request ${i} served in ${i % 997} ms from 10.0.${i % 256}.${(i >> 8) % 256} path=/api/v1/items/${i % 10007} status=200\n\n`;
  }
  return s;
}

async function makeJournal(file, n) {
  const child = spawn(JOURNAL_REMOTE, [`--output=${file}`, '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const done = new Promise((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`journal-remote exited ${code}`)))));
  for (let i = 0; i < n; i += 10_000) {
    if (!child.stdin.write(exportChunk(i, Math.min(n, i + 10_000)))) await new Promise((r) => child.stdin.once('drain', r));
  }
  child.stdin.end();
  await done;
}

/** Runs a command with stdout to /dev/null under /usr/bin/time: seconds and peak RSS (KiB). */
function timed(cmd, args) {
  const devnull = openSync('/dev/null', 'w');
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { stdio: ['ignore', devnull, 'pipe'] });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  closeSync(devnull);
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const lines = r.stderr.toString().trim().split('\n');
  return { seconds: s, maxRssKiB: Number(lines[lines.length - 1]) };
}

/** Runs this script in `--child mode` and returns what it printed (JSON). */
function child(mode, dir, n) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode, '--dir', dir, '--entries', String(n)], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function runChild(mode, dir, n) {
  const { NativeJournalBinding } = await import(join(dist, 'native', 'journal.js'));
  const binding = new NativeJournalBinding();
  const { journaldConfigSchema, JournaldSource } = await import(join(dist, 'sources', 'journald', 'index.js'));
  const { testComponentContext, MemoryCheckpointStore } = await import('@oma/core/testing');
  // Timed from here: modules loaded, nothing opened.
  const t = process.hrtime.bigint();
  let count = 0;
  if (mode === 'addon') {
    const fields = ['MESSAGE', 'PRIORITY', 'SYSLOG_FACILITY', '_TRANSPORT', '_PID', 'SYSLOG_PID', '_HOSTNAME', 'SYSLOG_IDENTIFIER', '_COMM'];
    const r = await binding.open({ location: { kind: 'directory', path: dir }, fields, maxFieldBytes: 65536, batchSize: 2000 });
    for (;;) {
      const b = r.read();
      if (b.count === 0) break;
      count += b.count;
    }
    r.close();
  } else {
    let bytes = 0;
    let finished;
    const all = new Promise((r) => (finished = r));
    const ctx = {
      ...testComponentContext({ id: 'bench', type: 'journald' }),
      checkpoints: new MemoryCheckpointStore(),
      fail: (err) => {
        throw err;
      },
      emit: (batch) => {
        count += batch.count;
        bytes += batch.data.length;
        if (count >= n) finished();
        return Promise.resolve();
      },
    };
    const config = journaldConfigSchema.parse({ directory: dir, startAt: 'head' });
    const src = new JournaldSource(config, ctx, () => binding);
    await src.start();
    await all;
    await src.stop(AbortSignal.timeout(5000));
    process.stderr.write(`encoded ${bytes} bytes of JSON\n`);
  }
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  // The journal files are mapped: their pages count in RSS (file-backed, shared with the page cache).
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  process.stdout.write(JSON.stringify({ count, seconds, maxRssKiB: process.resourceUsage().maxRSS, anonKiB: kib('RssAnon'), fileKiB: kib('RssFile') }));
}

async function main() {
  if (process.argv.includes('--child')) return runChild(arg('--child'), arg('--dir'), Number(arg('--entries')));
  if (process.platform !== 'linux' || !existsSync(JOURNAL_REMOTE)) {
    console.log('journal benchmark: needs Linux with systemd-journal-remote; skipped');
    return;
  }
  const n = Number(arg('--entries', '1000000'));
  const keep = arg('--keep');
  if (keep) mkdirSync(keep, { recursive: true });
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'oma-journal-bench-'));
  const file = join(dir, 'bench.journal');
  try {
    if (!existsSync(file)) {
      const t = Date.now();
      await makeJournal(file, n);
      const files = readdirSync(dir);
      const mib = files.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0) / 2 ** 20;
      console.log(`made ${n} entries with systemd-journal-remote in ${((Date.now() - t) / 1000).toFixed(1)} s: ${files.length} files, ${mib.toFixed(0)} MiB`);
    }
    const rows = [];
    const row = (name, count, r) =>
      rows.push({ name, count, seconds: r.seconds, perSec: count / r.seconds, maxRssMiB: r.maxRssKiB / 1024, anon: r.anonKiB === undefined ? '' : `${(r.anonKiB / 1024).toFixed(0)} / ${(r.fileKiB / 1024).toFixed(0)}` });
    row('journalctl -o export > /dev/null', n, timed('journalctl', ['-D', dir, '-o', 'export']));
    row('journalctl -o json > /dev/null', n, timed('journalctl', ['-D', dir, '-o', 'json']));
    const addon = child('addon', dir, n);
    row('journal addon: read (9 fields)', addon.count, addon);
    const source = child('source', dir, n);
    row('journald source: read → Syslog JSON', source.count, source);
    console.log('\n| what | entries | s | entries/s | peak RSS MiB | RSS at end: anon / file MiB |\n| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rows) console.log(`| ${r.name} | ${r.count} | ${r.seconds.toFixed(2)} | ${Math.round(r.perSec).toLocaleString('en')} | ${r.maxRssMiB.toFixed(0)} | ${r.anon} |`);
    const base = rows[0].perSec;
    console.log(`\nsource / journalctl -o export: ${(rows[3].perSec / base).toFixed(2)}×; source / journalctl -o json: ${(rows[3].perSec / rows[1].perSec).toFixed(2)}×`);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
