// Windows CI: the Event Log source against the real Event Log. Events are written with Write-EventLog (a
// source registered with New-EventLog) and with eventcreate; the agent (`oma run`, the rule's
// windowsEventLogs data source) must store each of them in the local workspace's Event table, with its
// columns, across a crash and restart with events written while it was down (its bookmark: no gap).
//
//   node tools/windows-ci/event-log-scenario.mjs        (elevated, after npm ci and npm run build)
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { agentConfig, check, dcr, powershell, query, run, runMain, scratch, startAgent, step, waitFor } from './lib.mjs';

const SOURCE = 'OMA-CI';
const EC_SOURCE = 'OMA-CI-EC';
const BEFORE = 40;
const WHILE_DOWN = 25;
const EVENTCREATE = 5;

const tag = `run${process.pid}x${Date.now().toString(36)}`;
const dir = scratch('oma-ci-evt-');

/** Writes events #from..#to-1 of this run with Write-EventLog (one PowerShell for all). */
function writeEvents(from, to) {
  powershell(
    `for ($i = ${from}; $i -lt ${to}; $i++) { Write-EventLog -LogName Application -Source '${SOURCE}' -EventId (1000 + $i) -EntryType Information -Message "oma-ci ${tag} #$i" }`,
  );
}

/** The rows of this run in the Event table: { n (event number, or ec-k / probe), source, id, level, log, computer }. */
function rows() {
  return query(
    join(dir, 'data'),
    `SELECT RenderedDescription AS d, EventData AS e, ParameterXml AS p, Source AS source, EventID AS id, EventLevelName AS level, EventLog AS log, Computer AS computer FROM "Event" WHERE RenderedDescription LIKE ? OR EventData LIKE ? OR ParameterXml LIKE ?`,
    `%${tag}%`,
    `%${tag}%`,
    `%${tag}%`,
  ).map((r) => {
    const text = `${r.d ?? ''} ${r.e ?? ''} ${r.p ?? ''}`;
    const m = new RegExp(`${tag} (#\\d+|ec#\\d+|probe)`).exec(text);
    return { n: m ? m[1] : '?', ...r };
  });
}

const numbered = (rs) => rs.filter((r) => r.n.startsWith('#')).map((r) => Number(r.n.slice(1)));

async function main() {
  step('register the event sources');
  powershell(`if (-not [System.Diagnostics.EventLog]::SourceExists('${SOURCE}')) { New-EventLog -LogName Application -Source '${SOURCE}' }`);

  const rule = join(dir, 'dcr.json');
  writeFileSync(
    rule,
    JSON.stringify(
      dcr({ windowsEventLogs: [{ name: 'ciEvents', streams: ['Microsoft-Event'], xPathQueries: [`Application!*[System[Provider[@Name='${SOURCE}' or @Name='${EC_SOURCE}']]]`] }] }, ['Microsoft-Event']),
      null,
      2,
    ),
  );
  const config = join(dir, 'oma.yaml');
  writeFileSync(config, agentConfig(dir, rule));

  step('start the agent and wait until it reads the channel (a probe event until one is stored)');
  let agent = startAgent(config, dir);
  try {
    await waitFor(
      () => {
        check(!agent.exited(), `the agent exited:\n${agent.output()}`);
        powershell(`Write-EventLog -LogName Application -Source '${SOURCE}' -EventId 999 -EntryType Information -Message "oma-ci ${tag} probe"`);
        return rows().some((r) => r.n === 'probe');
      },
      120_000,
      'the first event in the Event table',
      2000,
    );

    step(`write ${BEFORE} events with Write-EventLog and ${EVENTCREATE} with eventcreate`);
    writeEvents(0, BEFORE);
    for (let k = 0; k < EVENTCREATE; k++) {
      const r = run('eventcreate', ['/L', 'APPLICATION', '/T', 'WARNING', '/SO', EC_SOURCE, '/ID', String(100 + k), '/D', `oma-ci ${tag} ec#${k}`]);
      check(r.status === 0, `eventcreate: ${r.stdout}${r.stderr}`);
    }
    await waitFor(() => new Set(numbered(rows())).size === BEFORE && rows().filter((r) => r.n.startsWith('ec#')).length >= EVENTCREATE, 120_000, `${BEFORE} + ${EVENTCREATE} events stored`);

    const first = rows();
    const e0 = first.find((r) => r.n === '#0');
    check(e0.source === SOURCE, `Source of #0: ${e0.source}`);
    check(Number(e0.id) === 1000, `EventID of #0: ${e0.id}`);
    check(e0.level === 'Information', `EventLevelName of #0: ${e0.level}`);
    check(e0.log === 'Application', `EventLog of #0: ${e0.log}`);
    check(String(e0.computer).toUpperCase().startsWith(hostname().toUpperCase().split('.')[0]), `Computer of #0: ${e0.computer}`);
    check(/oma-ci .* #0/.test(e0.d ?? ''), `RenderedDescription of #0: ${e0.d}`);
    const ec = first.find((r) => r.n === 'ec#0');
    check(ec.source === EC_SOURCE && Number(ec.id) === 100 && ec.level === 'Warning', `the eventcreate event: ${JSON.stringify(ec)}`);
  } finally {
    step('crash the agent (TerminateProcess)');
    await agent.stop();
  }

  step(`write ${WHILE_DOWN} events while the agent is down`);
  writeEvents(BEFORE, BEFORE + WHILE_DOWN);

  step('start it again: it resumes after its bookmark');
  agent = startAgent(config, dir, 'agent-restarted');
  try {
    await waitFor(() => new Set(numbered(rows())).size === BEFORE + WHILE_DOWN, 120_000, `all ${BEFORE + WHILE_DOWN} events stored`);
  } finally {
    await agent.stop();
  }
  const all = numbered(rows());
  const missing = Array.from({ length: BEFORE + WHILE_DOWN }, (_, i) => i).filter((i) => !all.includes(i));
  check(missing.length === 0, `events missing after the restart: ${missing.join(', ')}`);
  const duplicates = all.length - new Set(all).size;
  // At least once: a crash may read again what was read after the last saved bookmark, never more than a batch.
  process.stdout.write(`stored ${all.length} rows for ${BEFORE + WHILE_DOWN} events (${duplicates} read again after the crash)\n`);
  check(duplicates <= BEFORE, `${duplicates} duplicates: more than the events read before the crash`);
}

runMain(main);
