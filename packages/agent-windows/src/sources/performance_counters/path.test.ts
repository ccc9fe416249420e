import { describe, expect, it } from 'vitest';
import { formatCounterPath, hasInstanceWildcard, parseCounterPath, perfCounterPath, type CounterPath } from './path.js';

describe('parseCounterPath', () => {
  it.each<[string, CounterPath]>([
    ['\\Processor(_Total)\\% Processor Time', { object: 'Processor', instance: '_Total', counter: '% Processor Time' }],
    ['\\Memory\\Available MBytes', { object: 'Memory', counter: 'Available MBytes' }],
    ['Memory\\Available MBytes', { object: 'Memory', counter: 'Available MBytes' }],
    ['LogicalDisk(*)\\% Free Space', { object: 'LogicalDisk', instance: '*', counter: '% Free Space' }],
    ['\\\\WEB01\\LogicalDisk(C:)\\Disk Reads/sec', { machine: 'WEB01', object: 'LogicalDisk', instance: 'C:', counter: 'Disk Reads/sec' }],
    ['\\Thread(explorer/0)\\% Processor Time', { object: 'Thread', parent: 'explorer', instance: '0', counter: '% Processor Time' }],
    ['\\Thread(explorer/0#1)\\Context Switches/sec', { object: 'Thread', parent: 'explorer', instance: '0', index: 1, counter: 'Context Switches/sec' }],
    ['\\Process(svchost#2)\\Working Set', { object: 'Process', instance: 'svchost', index: 2, counter: 'Working Set' }],
    ['\\Process(my (app))\\Working Set', { object: 'Process', instance: 'my (app)', counter: 'Working Set' }],
    ['\\Network Adapter(Intel[R] Ethernet 1)\\Bytes Sent/sec', { object: 'Network Adapter', instance: 'Intel[R] Ethernet 1', counter: 'Bytes Sent/sec' }],
    ['\\MSSQL$SQL1:Buffer Manager\\Page life expectancy', { object: 'MSSQL$SQL1:Buffer Manager', counter: 'Page life expectancy' }],
    ['\\SQLServer:Databases(*)\\Log Bytes Flushed/sec', { object: 'SQLServer:Databases', instance: '*', counter: 'Log Bytes Flushed/sec' }],
    ['\\Process(w3wp*)\\Private Bytes', { object: 'Process', instance: 'w3wp*', counter: 'Private Bytes' }],
    ['\\Processor(_Total)\\*', { object: 'Processor', instance: '_Total', counter: '*' }],
    ['\\Memory\\Free &amp; Zero Page List Bytes', { object: 'Memory', counter: 'Free & Zero Page List Bytes' }],
    ['  \\System\\System Up Time  ', { object: 'System', counter: 'System Up Time' }],
    ['\\Web Service Cache\\Kernel: URI Cache Hits %', { object: 'Web Service Cache', counter: 'Kernel: URI Cache Hits %' }],
  ])('parses %s', (text, path) => {
    expect(parseCounterPath(text)).toEqual(path);
  });

  it.each([
    '',
    'Memory',
    '\\Memory',
    '\\Memory\\',
    '\\\\HOST',
    '\\\\\\Memory\\Available MBytes',
    '\\\\HOST\\Memory',
    '\\Processor()\\% Processor Time',
    '\\Processor(_Total\\% Processor Time',
    '\\Processor_Total)\\% Processor Time',
    '\\(x)\\Counter',
    '\\Thread(/0)\\% Processor Time',
    '\\Process(#1)\\Working Set',
    '\\A\\B\\C',
  ])('refuses %j', (text) => {
    expect(parseCounterPath(text)).toBeUndefined();
  });

  it('writes back what it parsed', () => {
    for (const text of [
      '\\Processor(_Total)\\% Processor Time',
      '\\Memory\\Available MBytes',
      '\\\\WEB01\\LogicalDisk(C:)\\Disk Reads/sec',
      '\\Thread(explorer/0#1)\\Context Switches/sec',
      '\\Process(my (app))\\Working Set',
      '\\MSSQL$SQL1:Buffer Manager\\Page life expectancy',
    ]) {
      expect(formatCounterPath(parseCounterPath(text)!)).toBe(text);
    }
    expect(formatCounterPath(parseCounterPath('Memory\\Available MBytes')!)).toBe('\\Memory\\Available MBytes');
  });

  it('tells wildcard instances apart', () => {
    expect(hasInstanceWildcard(parseCounterPath('\\LogicalDisk(*)\\% Free Space')!)).toBe(true);
    expect(hasInstanceWildcard(parseCounterPath('\\Process(w3wp*)\\Private Bytes')!)).toBe(true);
    expect(hasInstanceWildcard(parseCounterPath('\\Thread(*/0)\\% Processor Time')!)).toBe(true);
    expect(hasInstanceWildcard(parseCounterPath('\\LogicalDisk(C:)\\% Free Space')!)).toBe(false);
    expect(hasInstanceWildcard(parseCounterPath('\\Memory\\Available MBytes')!)).toBe(false);
  });
});

describe('perfCounterPath', () => {
  it('writes the CounterPath column as MMA did, with no instance part for a single-instance object', () => {
    expect(perfCounterPath('WEB01', 'Processor', '_Total', '% Processor Time')).toBe('\\\\WEB01\\Processor(_Total)\\% Processor Time');
    expect(perfCounterPath('WEB01', 'Memory', '', 'Available MBytes')).toBe('\\\\WEB01\\Memory\\Available MBytes');
    expect(perfCounterPath('WEB01', 'LogicalDisk', 'C:', '% Free Space')).toBe('\\\\WEB01\\LogicalDisk(C:)\\% Free Space');
  });
});
