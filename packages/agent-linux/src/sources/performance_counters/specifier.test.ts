import { describe, expect, it } from 'vitest';
import { counterGroupsOf, DEFAULT_COUNTER_GROUPS, performanceCountersConfigSchema } from './config.js';
import { PERF_OBJECTS } from './counters.js';
import { parseCounterSpecifier, selectCounters } from './specifier.js';

describe('parseCounterSpecifier', () => {
  it.each([
    ['\\Processor(_Total)\\% Processor Time', { object: 'Processor', instance: '_Total', counter: '% Processor Time' }],
    ['\\Logical Disk(*)\\% Free Space', { object: 'Logical Disk', instance: '*', counter: '% Free Space' }],
    ['\\Memory\\Available MBytes Memory', { object: 'Memory', instance: '*', counter: 'Available MBytes Memory' }],
    ['\\Processor(*)\\*', { object: 'Processor', instance: '*', counter: '*' }],
    ['\\Processor(*)', { object: 'Processor', instance: '*', counter: '*' }],
    ['\\Memory', { object: 'Memory', instance: '*', counter: '*' }],
    ['Network(eth0)\\Total Bytes', { object: 'Network', instance: 'eth0', counter: 'Total Bytes' }],
    ['\\\\Logical Disk(/var/lib)\\Free Megabytes', { object: 'Logical Disk', instance: '/var/lib', counter: 'Free Megabytes' }],
    ['\\Process(a&amp;b)\\Pct User Time', { object: 'Process', instance: 'a&b', counter: 'Pct User Time' }],
    ['\\Processor()\\% Idle Time', { object: 'Processor', instance: '*', counter: '% Idle Time' }],
  ])('parses %s', (text, expected) => {
    expect(parseCounterSpecifier(text)).toEqual({ text, ...expected });
  });

  it.each(['', '\\', '\\(x)\\y', '\\Processor(_Total', '\\Processor(_Total)\\a\\b', '\\Processor(_Total)\\'])('rejects %j', (text) => {
    expect(parseCounterSpecifier(text)).toBeUndefined();
  });
});

describe('selectCounters', () => {
  const wanted = (specs: string[], object: string, instance: string, counter: string): boolean => {
    const sel = selectCounters(specs).objects.find((o) => o.object.name === object);
    return sel?.wants(instance, counter) ?? false;
  };

  it('matches objects without case or spaces, counters and instances without case, with * wildcards', () => {
    expect(wanted(['\\LogicalDisk(*)\\% free space'], 'Logical Disk', '/', '% Free Space')).toBe(true);
    expect(wanted(['\\physical disk(SD*)\\*'], 'Physical Disk', 'sda', 'Avg. Disk sec/Read')).toBe(true);
    expect(wanted(['\\Physical Disk(sd*)\\*'], 'Physical Disk', 'vda', 'Avg. Disk sec/Read')).toBe(false);
    expect(wanted(['\\Processor(_Total)\\% Processor Time'], 'Processor', '0', '% Processor Time')).toBe(false);
    expect(wanted(['\\Processor(*)\\% Processor Time'], 'Processor', '_Total', '% Processor Time')).toBe(true);
    expect(wanted(['\\Processor(*)\\% Processor Time'], 'Processor', '1', '% Idle Time')).toBe(false);
    expect(wanted(['\\Memory\\*'], 'Memory', 'Memory', 'Pages/sec')).toBe(true);
    expect(wanted(['\\*(*)\\Disk Reads/sec'], 'Logical Disk', '/', 'Disk Reads/sec')).toBe(true);
    expect(wanted(['\\Logical Disk(/va?)\\*'], 'Logical Disk', '/var', 'Free Megabytes')).toBe(false); // ? is no wildcard
  });

  it('selects only the objects named, in catalogue order', () => {
    expect(selectCounters(['\\System\\Uptime', '\\Processor(*)\\*']).objects.map((o) => o.object.name)).toEqual(['Processor', 'System']);
  });

  it('reports unknown objects and counters by index and name, and keeps the rest', () => {
    const s = selectCounters(['\\Network Interface(*)\\Bytes Total/sec', '\\Processor(_Total)\\% Processor Time', '\\Memory\\Available MBytes', '\\Memory']);
    expect(s.unknown.map((u) => [u.index, u.message])).toEqual([
      [0, expect.stringMatching(/^unknown performance object "Network Interface" in "\\Network Interface\(\*\)\\Bytes Total\/sec" \(Linux objects: Processor, Memory, Logical Disk/)],
      [2, 'unknown counter "Available MBytes" of Memory in "\\Memory\\Available MBytes"'],
    ]);
    expect(s.objects.map((o) => o.object.name)).toEqual(['Processor', 'Memory']);
  });

  it('knows every counter of the OMS Linux catalogue by its exact name', () => {
    const names = Object.fromEntries(PERF_OBJECTS.map((o) => [o.name, [...o.counters].sort()]));
    expect(names).toEqual({
      'Logical Disk': ['% Free Inodes', '% Free Space', '% Used Inodes', '% Used Space', 'Disk Read Bytes/sec', 'Disk Reads/sec', 'Disk Transfers/sec', 'Disk Write Bytes/sec', 'Disk Writes/sec', 'Free Megabytes', 'Logical Disk Bytes/sec'],
      Memory: ['% Available Memory', '% Available Swap Space', '% Used Memory', '% Used Swap Space', 'Available MBytes Memory', 'Available MBytes Swap', 'Page Reads/sec', 'Page Writes/sec', 'Pages/sec', 'Used MBytes Swap Space', 'Used Memory MBytes'],
      Network: ['Total Bytes', 'Total Bytes Received', 'Total Bytes Transmitted', 'Total Collisions', 'Total Packets Received', 'Total Packets Transmitted', 'Total Rx Errors', 'Total Tx Errors'],
      'Physical Disk': ['Avg. Disk sec/Read', 'Avg. Disk sec/Transfer', 'Avg. Disk sec/Write', 'Physical Disk Bytes/sec'],
      Process: ['Pct Privileged Time', 'Pct User Time', 'Used Memory kBytes', 'Virtual Shared Memory'],
      Processor: ['% DPC Time', '% IO Wait Time', '% Idle Time', '% Interrupt Time', '% Nice Time', '% Privileged Time', '% Processor Time', '% User Time'],
      System: ['Free Physical Memory', 'Free Space in Paging Files', 'Free Virtual Memory', 'Processes', 'Size Stored In Paging Files', 'Uptime', 'Users'],
    });
  });
});

describe('performance_counters config', () => {
  it('collects the default set with no options: Processor and Memory every 10 s, the rest every 60 s, all known', () => {
    const c = performanceCountersConfigSchema.parse({});
    expect(counterGroupsOf(c)).toBe(DEFAULT_COUNTER_GROUPS);
    expect(DEFAULT_COUNTER_GROUPS.map((g) => g.samplingFrequencySeconds)).toEqual([10, 60]);
    const fast = selectCounters(DEFAULT_COUNTER_GROUPS[0]!.counterSpecifiers);
    expect(fast.objects.map((o) => o.object.name)).toEqual(['Processor', 'Memory']);
    const slow = selectCounters(DEFAULT_COUNTER_GROUPS[1]!.counterSpecifiers);
    expect(slow.objects.map((o) => o.object.name)).toEqual(['Logical Disk', 'Physical Disk', 'Network', 'System']);
    expect([...fast.unknown, ...slow.unknown]).toEqual([]);
  });

  it('makes counterSpecifiers one group at samplingFrequencySeconds, or takes counterGroups', () => {
    expect(counterGroupsOf(performanceCountersConfigSchema.parse({ counterSpecifiers: ['\\Memory\\*'], samplingFrequencySeconds: 5 }))).toEqual([
      { samplingFrequencySeconds: 5, counterSpecifiers: ['\\Memory\\*'] },
    ]);
    const groups = [{ samplingFrequencySeconds: 1, counterSpecifiers: ['\\Processor(*)\\*'] }, { samplingFrequencySeconds: 1800, counterSpecifiers: ['\\System\\Uptime'] }];
    expect(counterGroupsOf(performanceCountersConfigSchema.parse({ counterGroups: groups }))).toEqual(groups);
  });

  it.each([
    [{ samplingFrequencySeconds: 0, counterSpecifiers: ['\\Memory'] }, 'samplingFrequencySeconds', /at least 1/],
    [{ samplingFrequencySeconds: 1801, counterSpecifiers: ['\\Memory'] }, 'samplingFrequencySeconds', /at most 1800/],
    [{ samplingFrequencySeconds: 1.5, counterSpecifiers: ['\\Memory'] }, 'samplingFrequencySeconds', /whole number/],
    [{ counterSpecifiers: ['\\Processor(_Total'] }, 'counterSpecifiers.0', /not a counter specifier/],
    [{ counterSpecifiers: [] }, 'counterSpecifiers', /.+/],
    [{ counterSpecifiers: ['\\Memory'], counterGroups: [{ samplingFrequencySeconds: 1, counterSpecifiers: ['\\Memory'] }] }, 'counterGroups', /not both/],
    [{ counterGroups: [{ samplingFrequencySeconds: 10, counterSpecifiers: ['\\Memory'], extra: 1 }] }, 'counterGroups.0', /extra/],
  ])('rejects %j', (input, path, message) => {
    const r = performanceCountersConfigSchema.safeParse(input);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => [i.path.join('.'), i.message])).toContainEqual([path, expect.stringMatching(message)]);
  });
});
