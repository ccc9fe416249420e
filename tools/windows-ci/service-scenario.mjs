// Windows CI: the real Windows service, from the unpacked Windows package (its node.exe and app) or, without
// --package, from this repository. Installs it with `oma service install`, checks what the SCM has
// (sc qc, qdescription, qfailure), starts it, waits for Heartbeat rows in its local workspace and for
// its "started" event in the Application log, stops it (the graceful path: "stopping" in its log
// file), shows that a config that is not valid ends a start with service-specific exit code 2, and
// uninstalls it.
//
//   node tools/windows-ci/service-scenario.mjs [--package DIR\OMA]        (elevated)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { check, OMA_JS, oma as omaWith, powershell, query, run, runMain, scratch, step, waitFor } from './lib.mjs';

const { values } = parseArgs({ options: { package: { type: 'string' }, name: { type: 'string', default: 'oma-ci' } } });
const NAME = values.name;
const cli = values.package
  ? { node: join(values.package, 'node.exe'), omaJs: join(values.package, 'app', 'node_modules', '@oma', 'cli', 'bin', 'oma.js') }
  : { node: process.execPath, omaJs: OMA_JS };
const oma = (args) => omaWith([...args, '--name', NAME], cli);
const dir = scratch('oma-ci-svc-');
const dataDir = join(dir, 'data');

function sc(...args) {
  const r = run('sc.exe', args);
  return `${r.stdout}${r.stderr}`;
}

async function main() {
  const config = join(dir, 'oma.yaml');
  writeFileSync(
    config,
    [`dataDir: ${JSON.stringify(dataDir)}`, 'statusIntervalMs: 0', 'observability: { enabled: false }', 'sources:', '  heartbeat: { type: heartbeat, intervalMs: 2000 }', 'destinations:', '  local: { type: local_workspace }', ''].join('\n'),
  );
  // A service left over by an earlier failed run goes first.
  oma(['uninstall']);

  step(`oma service install --name ${NAME}`);
  let r = oma(['install', '--config', config]);
  process.stdout.write(r.stdout + r.stderr);
  check(r.status === 0, 'install');
  const qc = sc('qc', NAME);
  process.stdout.write(qc);
  check(/AUTO_START\s+\(DELAYED\)/.test(qc), 'automatic, delayed start');
  check(qc.includes('service run') && qc.includes(`--name "${NAME}"`) && qc.includes(config), 'the command line runs `service run` with the config');
  check(/LocalSystem/i.test(qc), 'LocalSystem');
  check(/Collects Windows Event Log/.test(sc('qdescription', NAME)), 'the description');
  const qf = sc('qfailure', NAME);
  process.stdout.write(qf);
  check(/RESTART -- Delay = 60000/.test(qf) && /RESTART -- Delay = 300000/.test(qf), 'restart on failure');
  check(powershell("[System.Diagnostics.EventLog]::SourceExists('OMA')").trim() === 'True', 'the event source OMA is registered');

  step('oma service start, status');
  const startedAt = new Date();
  r = oma(['start']);
  process.stdout.write(r.stdout + r.stderr);
  check(r.status === 0 && /running \(pid \d+\)/.test(r.stdout), 'start');
  r = oma(['status']);
  check(r.status === 0 && r.stdout.includes(`${NAME}: running`), `status: ${r.stdout}`);
  await waitFor(() => query(dataDir, 'SELECT count(*) AS n FROM "Heartbeat"')[0]?.n >= 2, 60_000, 'Heartbeat rows from the service');
  const started = powershell(
    `Get-WinEvent -FilterHashtable @{ LogName = 'Application'; ProviderName = 'OMA'; Id = 1000; StartTime = [datetime]'${startedAt.toISOString()}' } -ErrorAction SilentlyContinue | ForEach-Object { $_.Message }`,
  );
  check(started.includes(`${NAME} started`), `the "started" event in the Application log: ${started}`);

  step('oma service stop: the graceful path');
  r = oma(['stop']);
  process.stdout.write(r.stdout + r.stderr);
  check(r.status === 0 && r.stdout.includes(`${NAME}: stopped`), 'stop');
  check(oma(['status']).status === 3, 'status exits 3 when stopped');
  const log = join(dataDir, 'logs', 'oma.log');
  check(existsSync(log) && /"msg":"stopping"/.test(readFileSync(log, 'utf8')), 'the log file shows the graceful stop');

  step('a config that is not valid: the start fails with service-specific exit code 2');
  writeFileSync(config, `${readFileSync(config, 'utf8')}bogus: 1\n`);
  r = oma(['start']);
  process.stdout.write(r.stdout + r.stderr);
  check(r.status === 1 && /last exit code 2 \(the config is not valid/.test(r.stdout), 'a failed start names exit code 2');
  const q = sc('query', NAME);
  check(/SERVICE_EXIT_CODE\s*:\s*2\b/.test(q) && /WIN32_EXIT_CODE\s*:\s*1066\b/.test(q), `sc query: ${q}`);

  step('oma service uninstall');
  r = oma(['uninstall']);
  process.stdout.write(r.stdout + r.stderr);
  check(r.status === 0, 'uninstall');
  await waitFor(() => oma(['status']).status === 4, 30_000, 'the service to be gone');
  check(/1060/.test(sc('query', NAME)), 'sc query: no such service');
}

runMain(main);
