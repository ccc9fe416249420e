// Windows CI: performance counters from the real PDH. First the binding alone (English paths with
// wildcards, two collections for a rate counter), then the agent (`oma run`, the rule's
// performanceCounters data source) into the local workspace's Perf table.
//
//   node tools/windows-ci/pdh-scenario.mjs        (after npm ci and npm run build)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { agentConfig, check, dcr, importBuilt, query, runMain, scratch, startAgent, step, waitFor } from './lib.mjs';

const COUNTERS = ['\\Processor(*)\\% Processor Time', '\\LogicalDisk(*)\\% Free Space', '\\Memory\\Available MBytes'];
const dir = scratch('oma-ci-pdh-');

async function main() {
  step('the PDH binding: wildcard instances of English counter paths');
  const { createPdhBinding } = await importBuilt('packages/agent-windows/dist/native/pdh.js');
  const q = createPdhBinding().openQuery();
  try {
    const counters = COUNTERS.map((p) => q.addCounter(p));
    q.collect();
    await delay(1100);
    q.collect();
    const [cpu, disk, mem] = counters.map((c) => q.read(c));
    process.stdout.write(`${JSON.stringify({ cpu, disk, mem }, null, 1).slice(0, 3000)}\n`);
    const names = (r) => r.values.map((v) => v.instance);
    check(names(cpu).includes('_Total') && names(cpu).includes('0'), `Processor instances: ${names(cpu).join(', ')}`);
    check(cpu.values.every((v) => v.value >= 0 && v.value <= 100.5), 'Processor % in 0..100');
    check(names(disk).some((n) => /^[A-Z]:$/.test(n)), `LogicalDisk instances: ${names(disk).join(', ')}`);
    check(disk.values.every((v) => v.value >= 0 && v.value <= 100), 'LogicalDisk % Free Space in 0..100');
    check(mem.values.length === 1 && mem.values[0].value > 0, `Available MBytes: ${JSON.stringify(mem.values)}`);
  } finally {
    q.close();
  }

  step('the agent: the rule\'s performance counters into the Perf table');
  const rule = join(dir, 'dcr.json');
  writeFileSync(rule, JSON.stringify(dcr({ performanceCounters: [{ name: 'ciPerf', streams: ['Microsoft-Perf'], samplingFrequencyInSeconds: 2, counterSpecifiers: COUNTERS }] }, ['Microsoft-Perf']), null, 2));
  const config = join(dir, 'oma.yaml');
  writeFileSync(config, agentConfig(dir, rule));
  const agent = startAgent(config, dir);
  try {
    const perf = () => query(join(dir, 'data'), 'SELECT ObjectName AS o, CounterName AS c, InstanceName AS i, CounterValue AS v FROM "Perf"');
    await waitFor(
      () => {
        check(!agent.exited(), `the agent exited:\n${agent.output()}`);
        const rows = perf();
        const cpu = rows.filter((r) => r.c === '% Processor Time');
        const disk = rows.filter((r) => r.c === '% Free Space');
        return cpu.some((r) => r.i === '_Total') && cpu.some((r) => r.i === '0') && disk.some((r) => /^[A-Z]:$/.test(r.i)) && rows.some((r) => r.c === 'Available MBytes');
      },
      90_000,
      'Processor (_Total and 0), LogicalDisk (a drive) and Memory rows in Perf',
    );
    const rows = perf();
    process.stdout.write(`${rows.length} Perf rows; objects: ${[...new Set(rows.map((r) => r.o))].join(', ')}\n`);
    check(rows.filter((r) => r.c === '% Free Space').every((r) => r.v >= 0 && r.v <= 100), '% Free Space in 0..100');
    check(rows.filter((r) => r.c === '% Processor Time').every((r) => r.v >= 0 && r.v <= 100.5), '% Processor Time in 0..100');
  } finally {
    await agent.stop();
  }
}

runMain(main);
