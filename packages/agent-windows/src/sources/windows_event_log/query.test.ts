import { describe, expect, it } from 'vitest';
import { compileEventQuery } from '@oma/core/testing';
import { filterXPath, groupChannelQueries, parseXPathQuery, structuredQuery } from './query.js';

describe('windows_event_log queries', () => {
  it('splits Channel!XPath at the first "!": channels with / - and spaces, XPaths with "!"', () => {
    expect(parseXPathQuery('Microsoft-Windows-Sysmon/Operational!*[System[(EventID=1)]]')).toEqual({
      channel: 'Microsoft-Windows-Sysmon/Operational',
      xpath: '*[System[(EventID=1)]]',
    });
    expect(parseXPathQuery('Windows PowerShell!*[System[EventID!=400]]')).toEqual({ channel: 'Windows PowerShell', xpath: '*[System[EventID!=400]]' });
    expect(parseXPathQuery('System!*')).toEqual({ channel: 'System', xpath: '*' });
    expect(parseXPathQuery('*[System[(Level=1)]]')).toMatch(/expected "<Channel>!<XPath>"/);
    expect(parseXPathQuery('!*')).toMatch(/channel before "!" is empty/);
    expect(parseXPathQuery('System! ')).toMatch(/XPath after "!" is empty/);
  });

  it('groups per channel (ignoring case), merges several XPaths into one escaped structured query, keeps * alone', () => {
    const q = groupChannelQueries(
      [
        "Application!*[System[Provider[@Name='MsiInstaller'] and (Level<3)]]",
        'System!*[System[(Level=1 or Level=2)]]',
        'application!*[System[(EventID=1000)]]',
        'Application!*[System[(EventID=1000)]]',
        'Setup!*[System[(Level=2)]]',
        'Setup!*',
      ].map((s) => parseXPathQuery(s) as { channel: string; xpath: string }),
    );
    expect(q.map((c) => [c.channel, c.xpaths.length])).toEqual([
      ['Application', 2],
      ['System', 1],
      ['Setup', 1],
    ]);
    expect(q[0]!.query).toBe(
      '<QueryList><Query Id="0" Path="Application">' +
        '<Select Path="Application">*[System[Provider[@Name=\'MsiInstaller\'] and (Level&lt;3)]]</Select>' +
        '<Select Path="Application">*[System[(EventID=1000)]]</Select>' +
        '</Query></QueryList>',
    );
    expect(q[1]!.query).toBe('*[System[(Level=1 or Level=2)]]');
    expect(q[2]!.query).toBe('*');
    expect(structuredQuery('A&"B"', ['*'])).toBe('<QueryList><Query Id="0" Path="A&amp;&quot;B&quot;"><Select Path="A&amp;&quot;B&quot;">*</Select></Query></QueryList>');
  });

  it('a merged query selects what any of its XPaths does (checked with the fake log\'s evaluator)', () => {
    const [c] = groupChannelQueries([
      { channel: 'Application', xpath: '*[System[(Level=1 or Level=2)]]' },
      { channel: 'Application', xpath: '*[System[(EventID=1000)]]' },
    ]);
    const p = compileEventQuery('Application', c!.query);
    const v = (level: number, eventId: number) => ({ level, eventId, task: 0, keywords: 0n, provider: 'x' });
    expect([p(v(2, 1)), p(v(4, 1000)), p(v(4, 1)), p(v(1, 7))]).toEqual([true, true, false, true]);
  });

  it('turns MMA-style levels and event ids into XPath (Information includes LogAlways, as Event Viewer does)', () => {
    expect(filterXPath(undefined, undefined)).toBe('*');
    expect(filterXPath(['Critical', 'Error', 'Warning', 'Information', 'Verbose'], [])).toBe('*');
    expect(filterXPath(['Error', 'Critical'], undefined)).toBe('*[System[(Level=2 or Level=1)]]');
    expect(filterXPath(['Information'], [4624, 4625, 4624])).toBe('*[System[(Level=4 or Level=0) and (EventID=4624 or EventID=4625)]]');
    expect(filterXPath(undefined, [7036])).toBe('*[System[(EventID=7036)]]');
  });
});
