import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { CounterGroupSampler, type PerfSample } from './performance-counters.js';
import { cpuTotal, parseMeminfo, parseNetDev, parseProcStat, type CpuTimes } from './procfs.js';
import { nodeProcFiles, SnapshotReader } from './snapshot.js';
import { selectCounters } from './specifier.js';

/** Counter values of this host, checked against the files and tools read independently (Linux only). */

function has(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function hostSampler(...specifiers: string[]): CounterGroupSampler {
  return new CounterGroupSampler(selectCounters(specifiers).objects, new SnapshotReader(nodeProcFiles));
}

function value(samples: readonly PerfSample[], object: string, instance: string, counter: string): number {
  const s = samples.find((x) => x.object === object && x.instance === instance && x.counter === counter);
  if (!s) throw new Error(`no ${object}(${instance})\\${counter} in ${JSON.stringify(samples.slice(0, 5))}…`);
  return s.value;
}

function cpuNow(): CpuTimes {
  return parseProcStat(readFileSync('/proc/stat', 'utf8')).total;
}

function busy(a: CpuTimes, b: CpuTimes): { percent: number; ticks: number } {
  const ticks = cpuTotal(b) - cpuTotal(a);
  const idle = b.idle - a.idle + Math.max(0, b.iowait - a.iowait);
  return { percent: ((ticks - idle) / ticks) * 100, ticks };
}

function meminfoKb(key: string): number {
  return parseMeminfo(readFileSync('/proc/meminfo', 'utf8')).get(key)!;
}

describe.runIf(process.platform === 'linux')('performance counters of this host', () => {
  it('% Processor Time of _Total matches two /proc/stat reads bracketing each sample', async () => {
    const sampler = hostSampler('\\Processor(_Total)\\% Processor Time');
    const a1 = cpuNow();
    await sampler.sample(Date.now());
    const a2 = cpuNow();
    await vi.waitFor(() => expect(cpuTotal(cpuNow()) - cpuTotal(a2)).toBeGreaterThan(300), { timeout: 20_000, interval: 50 });
    const b1 = cpuNow();
    const { samples } = await sampler.sample(Date.now());
    const b2 = cpuNow();
    const got = value(samples, 'Processor', '_Total', '% Processor Time');
    const inner = busy(a2, b1);
    const outer = busy(a1, b2);
    // The sample's interval lies between the inner and the outer bracket: at most their difference in ticks apart.
    const slack = ((outer.ticks - inner.ticks) / inner.ticks) * 100 + 0.5;
    expect(got).toBeGreaterThanOrEqual(Math.min(inner.percent, outer.percent) - slack);
    expect(got).toBeLessThanOrEqual(Math.max(inner.percent, outer.percent) + slack);
  });

  it('Available MBytes Memory and System memory match /proc/meminfo read beside them', async () => {
    const before = meminfoKb('MemAvailable');
    const { samples } = await hostSampler('\\Memory\\Available MBytes Memory', '\\Memory\\% Used Memory', '\\System\\Free Physical Memory').sample(Date.now());
    const after = meminfoKb('MemAvailable');
    const got = value(samples, 'Memory', 'Memory', 'Available MBytes Memory');
    const tolerance = 64; // MB that may come and go between the reads on a shared machine
    expect(got).toBeGreaterThanOrEqual(Math.min(before, after) / 1024 - tolerance);
    expect(got).toBeLessThanOrEqual(Math.max(before, after) / 1024 + tolerance);
    const total = meminfoKb('MemTotal');
    expect(value(samples, 'Memory', 'Memory', '% Used Memory')).toBeCloseTo(100 - ((got * 1024) / total) * 100, 0);
    expect(Math.abs(value(samples, 'System', '_Total', 'Free Physical Memory') - meminfoKb('MemFree'))).toBeLessThan(tolerance * 1024);
  });

  it.runIf(has('vmstat'))('System memory and swap agree with vmstat -s', async () => {
    const { samples } = await hostSampler('\\System\\*', '\\Memory\\Available MBytes Swap').sample(Date.now());
    const out = execFileSync('vmstat', ['-s'], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    const kb = (label: string): number => Number(new RegExp(`^\\s*(\\d+) K ${label}$`, 'm').exec(out)![1]);
    expect(value(samples, 'System', '_Total', 'Size Stored In Paging Files')).toBe(kb('total swap'));
    expect(value(samples, 'System', '_Total', 'Free Space in Paging Files')).toBeCloseTo(kb('free swap'), -4);
    expect(value(samples, 'Memory', 'Memory', 'Available MBytes Swap')).toBeCloseTo(kb('free swap') / 1024, -1);
    expect(Math.abs(value(samples, 'System', '_Total', 'Free Physical Memory') - kb('free memory'))).toBeLessThan(64 * 1024);
  });

  it.runIf(has('df'))('% Used Space and Free Megabytes of / agree with df -P', async () => {
    const { samples } = await hostSampler('\\Logical Disk(/)\\*').sample(Date.now());
    const line = execFileSync('df', ['-P', '-k', '/'], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }).trim().split('\n').at(-1)!;
    const [, , , availKb, capacity] = line.split(/\s+/);
    // df rounds its Capacity up to a whole percent
    const used = value(samples, 'Logical Disk', '/', '% Used Space');
    expect(used).toBeGreaterThan(Number(capacity!.replace('%', '')) - 1.5);
    expect(used).toBeLessThanOrEqual(Number(capacity!.replace('%', '')) + 0.5);
    expect(value(samples, 'Logical Disk', '/', '% Free Space')).toBeCloseTo(100 - used, 6);
    expect(Math.abs(value(samples, 'Logical Disk', '/', 'Free Megabytes') - Number(availKb) / 1024)).toBeLessThan(256);
  });

  it('Network totals lie between /proc/net/dev reads bracketing the sample', async () => {
    const before = parseNetDev(readFileSync('/proc/net/dev', 'utf8'));
    const { samples } = await hostSampler('\\Network(*)\\Total Bytes Received', '\\Network(*)\\Total Packets Transmitted').sample(Date.now());
    const after = parseNetDev(readFileSync('/proc/net/dev', 'utf8'));
    const names = before.filter((n) => n.name !== 'lo').map((n) => n.name);
    for (const name of names) {
      const b = before.find((n) => n.name === name)!;
      const a = after.find((n) => n.name === name)!;
      const rx = value(samples, 'Network', name, 'Total Bytes Received');
      expect(rx).toBeGreaterThanOrEqual(b.rxBytes);
      expect(rx).toBeLessThanOrEqual(a.rxBytes);
      expect(value(samples, 'Network', name, 'Total Packets Transmitted')).toBeGreaterThanOrEqual(b.txPackets);
    }
    expect(samples.some((s) => s.instance === 'lo')).toBe(false);
  });

  it.runIf(has('who'))('Users counts the sessions who lists', async () => {
    const { samples } = await hostSampler('\\System\\Users').sample(Date.now());
    const sessions = execFileSync('who', { encoding: 'utf8' }).split('\n').filter(Boolean).length;
    expect(value(samples, 'System', '_Total', 'Users')).toBe(sessions);
  });

  it('Process shows this test process’s memory beside /proc/self/statm', async () => {
    const { samples } = await hostSampler('\\Process(*)\\Used Memory kBytes').sample(Date.now());
    const name = readFileSync('/proc/self/comm', 'utf8').trim();
    expect(value(samples, 'Process', name, 'Used Memory kBytes')).toBeGreaterThan(0);
  });
});
