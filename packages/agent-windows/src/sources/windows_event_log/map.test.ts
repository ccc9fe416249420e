import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVENT, WINDOWS_EVENT, validateRecord } from '@oma/core';
import { decodeXmlText, readEventXml } from './event-xml.js';
import { eventLevelName, eventRecord, eventRecordJson, mapEventRecord, normalizeSystemTime, windowsEventLevelName, windowsEventRecord } from './map.js';

const sample = (name: string): string => readFileSync(new URL(`./testdata/${name}.xml`, import.meta.url), 'utf8').trim();
const ctx = { computer: 'oma-host', now: () => '2026-01-01T00:00:00.000Z' };

describe('event XML → Event record', () => {
  it('System: Service Control Manager 7036 (EventSourceName, Qualifiers masked off, EventData with Binary)', () => {
    const xml = sample('system-7036');
    const r = mapEventRecord(xml, 'The Windows Update service entered the running state.', ctx);
    expect(r).toEqual({
      TimeGenerated: '2024-03-05T14:02:11.4791722Z',
      Computer: 'WIN-SRV01.contoso.local',
      EventLog: 'System',
      Source: 'Service Control Manager',
      EventID: 7036,
      EventCategory: 0,
      EventLevel: 4,
      EventLevelName: 'Information',
      UserName: 'N/A',
      RenderedDescription: 'The Windows Update service entered the running state.',
      ParameterXml: '<Param>Windows Update</Param><Param>running</Param>',
      EventData:
        "<EventData><Data Name='param1'>Windows Update</Data><Data Name='param2'>running</Data><Binary>770075006100750073006500720076002F0034000000</Binary></EventData>",
    });
    expect(validateRecord(EVENT, r)).toEqual([]);
    expect(readEventXml(xml)).toMatchObject({ qualifiers: 16384, recordId: 51234, processId: 716, threadId: 8840, binary: '770075006100750073006500720076002F0034000000' });
  });

  it('Application: Application Error 1000 (unnamed Data, empty values kept, an Error level)', () => {
    const r = mapEventRecord(sample('application-1000'), undefined, ctx);
    expect(r).toMatchObject({ Source: 'Application Error', EventLog: 'Application', EventID: 1000, EventCategory: 100, EventLevel: 2, EventLevelName: 'Error' });
    expect(r.RenderedDescription).toBeUndefined();
    expect(r.ParameterXml).toMatch(/^<Param>notepad\.exe<\/Param><Param>10\.0\.19041\.1<\/Param>/);
    expect(r.ParameterXml).toMatch(/<Param>C:\\Windows\\System32\\KERNELBASE\.dll<\/Param><Param>4b1e7a12-2c0d-4e0a-9a5f-0c1a9c3e7d21<\/Param><Param><\/Param><Param><\/Param>$/);
    expect(validateRecord(EVENT, r)).toEqual([]);
  });

  it('Security 4624 and 4625: audit events (level 0 is Information), task 12544, named data', () => {
    const ok = mapEventRecord(sample('security-4624'), undefined, ctx);
    expect(ok).toMatchObject({ EventID: 4624, EventLevel: 0, EventLevelName: 'Information', EventCategory: 12544, Source: 'Microsoft-Windows-Security-Auditing', EventLog: 'Security', UserName: 'N/A' });
    expect(ok.ParameterXml).toContain('<Param>WIN-SRV01$</Param><Param>CONTOSO</Param>');
    expect(ok.ParameterXml).toContain('<Param>%%1833</Param>');
    const f = readEventXml(sample('security-4625'));
    expect(f).toMatchObject({ eventId: 4625, keywords: '0x8010000000000000', activityId: '{0a6e3f4c-6ef1-0001-a25f-6e0af16eda01}', threadId: 5120 });
    expect(f.data.find((d) => d.name === 'IpAddress')).toEqual({ name: 'IpAddress', value: '203.0.113.45' });
    expect(f.data.find((d) => d.name === 'TargetDomainName')).toEqual({ name: 'TargetDomainName', value: '' });
    expect(validateRecord(EVENT, mapEventRecord(sample('security-4625'), undefined, ctx))).toEqual([]);
  });

  it('Sysmon 1: a channel with a slash, entities decoded in values and escaped again in ParameterXml, the SID resolved', () => {
    const xml = sample('sysmon-1');
    const resolveSid = (sid: string) => (sid === 'S-1-5-18' ? 'NT AUTHORITY\\SYSTEM' : undefined);
    const r = mapEventRecord(xml, undefined, { ...ctx, resolveSid });
    expect(r).toMatchObject({ EventLog: 'Microsoft-Windows-Sysmon/Operational', EventID: 1, EventCategory: 1, UserName: 'NT AUTHORITY\\SYSTEM' });
    const cmd = readEventXml(xml).data.find((d) => d.name === 'CommandLine')!.value;
    expect(cmd).toBe(
      `"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" -NoProfile -Command "Get-Process | Where-Object { $_.CPU -gt 10 -and $_.Name -ne 'idle' } > C:\\Temp\\p&q.txt"`,
    );
    expect(r.ParameterXml).toContain(`<Param>"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" -NoProfile`);
    expect(r.ParameterXml).toContain(`'idle' } &gt; C:\\Temp\\p&amp;q.txt"</Param>`);
    expect(readEventXml(xml).data.find((d) => d.name === 'Product')!.value).toBe('Microsoft® Windows® Operating System');
    // Without a resolver (or when it cannot resolve), the SID.
    expect(mapEventRecord(xml, undefined, ctx).UserName).toBe('S-1-5-18');
    expect(mapEventRecord(xml, undefined, { ...ctx, resolveSid: () => undefined }).UserName).toBe('S-1-5-18');
  });

  it('UserData instead of EventData: its leaves are the parameters, and its Channel does not replace the event\'s', () => {
    const r = mapEventRecord(sample('system-104-userdata'), undefined, ctx);
    expect(r).toMatchObject({ EventLog: 'System', EventID: 104, Source: 'Microsoft-Windows-Eventlog', UserName: 'S-1-5-21-3623811015-3361044348-30300820-500' });
    expect(r.ParameterXml).toBe('<Param>Administrator</Param><Param>CONTOSO</Param><Param>Application</Param><Param></Param>');
    expect(r.EventData).toBe(
      "<UserData><LogFileCleared xmlns='http://manifests.microsoft.com/win/2004/08/windows/eventlog'><SubjectUserName>Administrator</SubjectUserName><SubjectDomainName>CONTOSO</SubjectDomainName><Channel>Application</Channel><BackupPath></BackupPath></LogFileCleared></UserData>",
    );
    expect(readEventXml(sample('system-104-userdata')).payload).toBe('UserData');
  });

  it('neither EventData nor UserData: no EventData column, empty ParameterXml', () => {
    const r = mapEventRecord(sample('application-4101-nodata'), 'Windows license validated.', ctx);
    expect(r).toMatchObject({ Source: 'Winlogon', EventID: 4101, ParameterXml: '', RenderedDescription: 'Windows license validated.' });
    expect('EventData' in r).toBe(false);
    expect(validateRecord(EVENT, r)).toEqual([]);
  });

  it('Critical: Kernel-Power 41 is EventLevel 1, EventLevelName Error (as MMA showed it)', () => {
    const r = mapEventRecord(sample('system-41-critical'), undefined, ctx);
    expect(r).toMatchObject({ EventID: 41, EventLevel: 1, EventLevelName: 'Error', EventCategory: 63, Source: 'Microsoft-Windows-Kernel-Power', UserName: 'S-1-5-18' });
    expect(r.ParameterXml).toMatch(/^<Param>0<\/Param><Param>0x0<\/Param>/);
  });

  it('level names, times and entities', () => {
    expect([0, 1, 2, 3, 4, 5, undefined].map(eventLevelName)).toEqual(['Information', 'Error', 'Error', 'Warning', 'Information', 'Information', 'Information']);
    const now = () => 'NOW';
    expect(normalizeSystemTime('2024-03-05T14:02:11.479172200Z', now)).toBe('2024-03-05T14:02:11.4791722Z');
    expect(normalizeSystemTime('2024-03-05T14:02:11Z', now)).toBe('2024-03-05T14:02:11Z');
    expect(normalizeSystemTime('2024-03-05T15:02:11.5+01:00', now)).toBe('2024-03-05T14:02:11.500Z');
    expect(normalizeSystemTime('yesterday', now)).toBe('NOW');
    expect(normalizeSystemTime(undefined, now)).toBe('NOW');
    expect(decodeXmlText('a&lt;b&gt;c&amp;d&quot;e&apos;f&#65;&#x1F600;&bogus;&#xZZ;')).toBe(`a<b>c&d"e'fA\u{1F600}&bogus;&#xZZ;`);
  });

  it('reads what EvtRender may also write: double quotes, namespace prefixes, CDATA, comments, whitespace; never throws on broken XML', () => {
    const xml =
      '<?xml version="1.0"?>\r\n<e:Event xmlns:e="http://schemas.microsoft.com/win/2004/08/events/event">\r\n  <!-- a comment <Level>9</Level> -->\r\n' +
      '  <e:System>\r\n    <e:Provider Name = "P &amp; Q" />\r\n    <e:EventID Qualifiers="49152">0x1f4</e:EventID>\r\n    <e:Level>3</e:Level>\r\n' +
      '    <e:TimeCreated SystemTime="2024-03-05T14:02:11.1Z"/>\r\n    <e:Channel>App</e:Channel>\r\n    <e:Security UserID="S-1-5-19"/>\r\n  </e:System>\r\n' +
      '  <e:EventData><e:Data Name="a>b">x<![CDATA[<raw & text>]]>y</e:Data><e:Data>2</e:Data></e:EventData>\r\n</e:Event>';
    const f = readEventXml(xml);
    expect(f).toMatchObject({ provider: 'P & Q', eventId: 500, qualifiers: 49152, level: 3, channel: 'App', userId: 'S-1-5-19', systemTime: '2024-03-05T14:02:11.1Z' });
    expect(f.data).toEqual([
      { name: 'a>b', value: 'x<raw & text>y' },
      { name: undefined, value: '2' },
    ]);
    expect(mapEventRecord(xml, undefined, ctx)).toMatchObject({ EventID: 500, EventLevelName: 'Warning', Computer: 'oma-host', ParameterXml: '<Param>x&lt;raw &amp; text&gt;y</Param><Param>2</Param>' });
    for (const broken of ['', '<Event', '<Event><System><Level>2', '<Event><System><Provider Name=\'x', 'not xml at all', '<Event><EventData><Data>1</Data>']) {
      expect(() => mapEventRecord(broken, undefined, ctx), broken).not.toThrow();
    }
    expect(readEventXml('<Event><System><Level>2</Level><EventID>7</EventID').level).toBe(2);
  });

  it('WindowsEvent: System columns, EventData as an object (named values, unnamed ones under Data, UserData leaves), Critical kept', () => {
    const sysmon = windowsEventRecord(readEventXml(sample('sysmon-1')), ctx);
    expect(validateRecord(WINDOWS_EVENT, sysmon)).toEqual([]);
    expect(sysmon).toMatchObject({
      TimeGenerated: '2024-03-05T14:20:31.6021870Z',
      TimeCreated: '2024-03-05T14:20:31.6021870Z',
      Computer: 'WIN-SRV01.contoso.local',
      Channel: 'Microsoft-Windows-Sysmon/Operational',
      Provider: 'Microsoft-Windows-Sysmon',
      EventID: 1,
      EventLevel: 4,
      EventLevelName: 'Information',
      Task: 1,
      Opcode: '0',
      Keywords: '0x8000000000000000',
      Version: 5,
      EventRecordId: '1203377',
      SystemProcessId: 3012,
      SystemThreadId: 4128,
      SystemUserId: 'S-1-5-18',
    });
    expect((sysmon.EventData as Record<string, string>).Image).toBe('C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe');
    const scm = windowsEventRecord(readEventXml(sample('system-7036')), ctx);
    expect(scm.EventData).toEqual({ param1: 'Windows Update', param2: 'running', Binary: '770075006100750073006500720076002F0034000000' });
    expect(scm.Provider).toBe('Service Control Manager');
    expect(windowsEventRecord(readEventXml(sample('application-1000')), ctx).EventData).toMatchObject({ Data: expect.arrayContaining(['notepad.exe', '']) as unknown });
    expect(windowsEventRecord(readEventXml(sample('system-104-userdata')), ctx).EventData).toEqual({
      SubjectUserName: 'Administrator',
      SubjectDomainName: 'CONTOSO',
      Channel: 'Application',
      BackupPath: '',
    });
    expect(windowsEventRecord(readEventXml(sample('security-4624')), ctx).Correlation).toBe('{0a6e3f4c-6ef1-0001-a25f-6e0af16eda01}');
    expect(windowsEventRecord(readEventXml(sample('application-4101-nodata')), ctx).EventData).toEqual({});
    expect(windowsEventRecord(readEventXml(sample('system-41-critical')), ctx)).toMatchObject({ EventLevel: 1, EventLevelName: 'Critical' });
    expect([0, 1, 2, 3, 4, 5].map(windowsEventLevelName)).toEqual(['Information', 'Critical', 'Error', 'Warning', 'Information', 'Verbose']);
  });

  it('writes the Event record as JSON directly: the same text as the record stringified, for every sample', () => {
    const names = ['system-7036', 'application-1000', 'security-4624', 'security-4625', 'sysmon-1', 'system-104-userdata', 'application-4101-nodata', 'system-41-critical'];
    const resolveSid = (sid: string) => (sid === 'S-1-5-18' ? 'NT AUTHORITY\\SYSTEM' : undefined);
    for (const name of names) {
      const f = readEventXml(sample(name));
      for (const message of [undefined, 'A "quoted" message\r\nwith C:\\paths and \u2028 and \u0001']) {
        for (const c of [ctx, { ...ctx, resolveSid }]) {
          expect(eventRecordJson(f, message, c), name).toBe(JSON.stringify(eventRecord(f, message, c)));
        }
      }
    }
    const empty = readEventXml('<Event/>');
    expect(eventRecordJson(empty, undefined, ctx)).toBe(JSON.stringify(eventRecord(empty, undefined, ctx)));
  });
});
