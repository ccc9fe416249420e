import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { SourceDefinition } from '../../pipeline/component.js';
import { ComponentRegistry } from '../../pipeline/registry.js';
import { customLogSource } from '../../sources/custom_log/index.js';
import { heartbeatSource } from '../../sources/heartbeat/index.js';
import { iisLogDcr, iisLogSource } from '../../sources/iis_log/index.js';
import { type DcrReportItem, customStreamTable, dcrSourceId, mapDcrToSources } from './mapper.js';
import type { DcrSourceMapping } from './source-mapping.js';

/** A source type the platform packages provide, with a DCR mapping of the shape theirs have. */
function platformSource(type: string, schema: z.ZodType, dcr: DcrSourceMapping): SourceDefinition {
  return {
    kind: 'source',
    type,
    description: 'test',
    schema,
    create: () => {
      throw new Error('not used');
    },
    dcr,
  };
}

const FACILITIES = ['auth', 'authpriv', 'cron', 'daemon', 'kern', 'syslog', 'user', 'local4'];
const LEVELS = ['Debug', 'Info', 'Notice', 'Warning', 'Error', 'Critical', 'Alert', 'Emergency'];

const syslogDcr: DcrSourceMapping = {
  kind: 'syslog',
  streams: ['Microsoft-Syslog'],
  keys: ['name', 'streams', 'facilityNames', 'logLevels'],
  unsupported: { 'Microsoft-CommonSecurityLog': 'CEF messages (CommonSecurityLog) are not collected by OMA' },
  fromDcr(r) {
    r.set('facilities', r.enumList('facilityNames', FACILITIES, 'facility'), ['facilityNames']);
    r.set('levels', r.enumList('logLevels', LEVELS, 'log level'), ['logLevels']);
  },
};
const eventLogDcr: DcrSourceMapping = {
  kind: 'windowsEventLogs',
  streams: ['Microsoft-Event'],
  keys: ['name', 'streams', 'xPathQueries'],
  unsupported: { 'Microsoft-SecurityEvent': 'the SecurityEvent table is not supported by OMA' },
  fromDcr(r) {
    const q = r.stringList('xPathQueries', true);
    q?.forEach((x, j) => {
      if (!/^[^!]+!.+$/s.test(x)) r.error(['xPathQueries', j], 'expected "<Channel>!<XPath>"');
    });
    r.set('xPathQueries', q, ['xPathQueries']);
  },
};
const perfDcr: DcrSourceMapping = {
  kind: 'performanceCounters',
  streams: ['Microsoft-Perf'],
  keys: ['name', 'streams', 'samplingFrequencyInSeconds', 'counterSpecifiers'],
  unsupported: { 'Microsoft-InsightsMetrics': 'InsightsMetrics is not supported by OMA' },
  fromDcr(r) {
    const f = r.entry.samplingFrequencyInSeconds;
    if (f === undefined) r.error(['samplingFrequencyInSeconds'], 'missing (required)');
    else if (typeof f !== 'number' || f < 1 || f > 1800) r.error(['samplingFrequencyInSeconds'], 'expected a whole number of seconds from 1 to 1800');
    r.set('counterSpecifiers', r.stringList('counterSpecifiers', true), ['counterSpecifiers']);
    r.set('samplingFrequencySeconds', f, ['samplingFrequencyInSeconds']);
  },
};
const coreRegistry = new ComponentRegistry([heartbeatSource, customLogSource, iisLogSource]);
const fullRegistry = new ComponentRegistry([
  heartbeatSource,
  customLogSource,
  platformSource('syslog', z.strictObject({ facilities: z.array(z.string()).min(1), levels: z.array(z.string()).min(1) }), syslogDcr),
  platformSource('windows_event_log', z.strictObject({ xPathQueries: z.array(z.string()).min(1) }), eventLogDcr),
  platformSource('performance_counters', z.strictObject({ counterSpecifiers: z.array(z.string()).min(1), samplingFrequencySeconds: z.number() }), perfDcr),
  iisLogSource,
]);

/** The complete agent-style data collection rule of the protocol notes (docs/protocol-notes.md#dcr-agent-example): all five sources, one workspace. */
function exampleDcr(): Record<string, unknown> {
  return {
    location: 'westeurope',
    properties: {
      dataCollectionEndpointId: '/subscriptions/<sub>/resourceGroups/rg-mon/providers/Microsoft.Insights/dataCollectionEndpoints/dce-weu',
      streamDeclarations: {
        'Custom-AppText': {
          columns: [
            { name: 'TimeGenerated', type: 'datetime' },
            { name: 'RawData', type: 'string' },
            { name: 'FilePath', type: 'string' },
            { name: 'Computer', type: 'string' },
          ],
        },
      },
      dataSources: {
        syslog: [
          {
            name: 'syslogBase',
            streams: ['Microsoft-Syslog'],
            facilityNames: ['auth', 'authpriv', 'cron', 'daemon', 'kern', 'syslog', 'user'],
            logLevels: ['Warning', 'Error', 'Critical', 'Alert', 'Emergency'],
          },
        ],
        windowsEventLogs: [
          {
            name: 'winEvents',
            streams: ['Microsoft-Event'],
            xPathQueries: ['Application!*[System[(Level=1 or Level=2 or Level=3)]]', 'System!*[System[(Level=1 or Level=2 or Level=3)]]'],
          },
        ],
        performanceCounters: [
          {
            name: 'perf60',
            streams: ['Microsoft-Perf'],
            samplingFrequencyInSeconds: 60,
            counterSpecifiers: [
              '\\Processor(_Total)\\% Processor Time',
              '\\Memory\\Available MBytes',
              '\\LogicalDisk(*)\\% Free Space',
              '\\Network Interface(*)\\Bytes Total/sec',
            ],
          },
        ],
        logFiles: [
          {
            name: 'appText',
            streams: ['Custom-AppText'],
            filePatterns: ['C:\\app\\logs\\*.log', '/var/log/app/*.log'],
            format: 'text',
            settings: { text: { recordStartTimestampFormat: 'ISO 8601' } },
          },
        ],
        iisLogs: [{ name: 'iis', streams: ['Microsoft-W3CIISLog'], logDirectories: ['C:\\inetpub\\logs\\LogFiles\\W3SVC1'] }],
      },
      destinations: {
        logAnalytics: [
          {
            name: 'law',
            workspaceResourceId: '/subscriptions/<sub>/resourceGroups/rg-mon/providers/Microsoft.OperationalInsights/workspaces/law-weu',
          },
        ],
      },
      dataFlows: [
        { streams: ['Microsoft-Syslog'], destinations: ['law'], transformKql: 'source', outputStream: 'Microsoft-Syslog' },
        { streams: ['Microsoft-Event'], destinations: ['law'], transformKql: 'source | project-away ParameterXml', outputStream: 'Microsoft-Event' },
        { streams: ['Microsoft-Perf'], destinations: ['law'], transformKql: 'source', outputStream: 'Microsoft-Perf' },
        { streams: ['Microsoft-W3CIISLog'], destinations: ['law'], transformKql: 'source', outputStream: 'Microsoft-W3CIISLog' },
        {
          streams: ['Custom-AppText'],
          destinations: ['law'],
          transformKql: "source | extend Level = extract(@'\\b(ERROR|WARN|INFO|DEBUG)\\b', 1, RawData)",
          outputStream: 'Custom-AppText_CL',
        },
      ],
    },
  };
}

type Dcr = ReturnType<typeof exampleDcr>;
type Props = { dataSources: Record<string, Array<Record<string, unknown>>>; dataFlows: Array<Record<string, unknown>> } & Record<string, unknown>;
const props = (d: Dcr): Props => d.properties as Props;

function at(report: readonly DcrReportItem[], path: string): DcrReportItem[] {
  return report.filter((r) => r.path === path);
}
const errors = (report: readonly DcrReportItem[]) => report.filter((r) => r.severity === 'error');

describe('mapDcrToSources: the example of the protocol notes (docs/protocol-notes.md#dcr-agent-example)', () => {
  it('maps every data source kind to its source type and options', () => {
    const m = mapDcrToSources(exampleDcr(), fullRegistry);
    expect(errors(m.report)).toEqual([]);
    expect(m.sources).toEqual({
      'dcr-syslogbase': {
        type: 'syslog',
        facilities: ['auth', 'authpriv', 'cron', 'daemon', 'kern', 'syslog', 'user'],
        levels: ['Warning', 'Error', 'Critical', 'Alert', 'Emergency'],
      },
      'dcr-winevents': {
        type: 'windows_event_log',
        xPathQueries: ['Application!*[System[(Level=1 or Level=2 or Level=3)]]', 'System!*[System[(Level=1 or Level=2 or Level=3)]]'],
      },
      'dcr-perf60': {
        type: 'performance_counters',
        counterSpecifiers: ['\\Processor(_Total)\\% Processor Time', '\\Memory\\Available MBytes', '\\LogicalDisk(*)\\% Free Space', '\\Network Interface(*)\\Bytes Total/sec'],
        samplingFrequencySeconds: 60,
      },
      'dcr-apptext': {
        type: 'custom_log',
        table: 'AppText_CL',
        filePatterns: ['C:\\app\\logs\\*.log', '/var/log/app/*.log'],
        recordStartTimestampFormat: 'ISO 8601',
      },
      'dcr-iis': { type: 'iis_log', logDirectories: ['C:\\inetpub\\logs\\LogFiles\\W3SVC1'] },
    });
    // The validated configs carry the schema defaults, like sources of the config file.
    const app = m.configs.find((c) => c.id === 'dcr-apptext')!;
    expect(app).toMatchObject({ type: 'custom_log', processors: [], options: { table: 'AppText_CL', startAt: 'end', excludeCompressed: true } });
    expect(m.configs.map((c) => c.id)).toEqual(['dcr-syslogbase', 'dcr-winevents', 'dcr-perf60', 'dcr-apptext', 'dcr-iis']);
  });

  it('reports transformations, the workspace destination and the DCE as not applied, with their paths', () => {
    const { report } = mapDcrToSources(exampleDcr(), fullRegistry);
    expect(report).toEqual([
      expect.objectContaining({ path: 'properties.dataFlows[1].transformKql', severity: 'warning', message: expect.stringMatching(/transformation not applied/) }),
      expect.objectContaining({ path: 'properties.dataFlows[4].transformKql', severity: 'warning' }),
      expect.objectContaining({ path: 'properties.destinations', severity: 'info', message: expect.stringMatching(/logAnalytics:law -> law-weu/) }),
      expect.objectContaining({ path: 'properties.dataCollectionEndpointId', severity: 'info' }),
    ]);
  });

  it('on a build with only core sources, skips the other kinds as not available and applies the text and IIS logs', () => {
    const m = mapDcrToSources(exampleDcr(), coreRegistry);
    expect(Object.keys(m.sources)).toEqual(['dcr-apptext', 'dcr-iis']);
    expect(errors(m.report)).toEqual([]);
    const missing = m.report.filter((r) => r.message.startsWith('not available on this platform/build'));
    expect(missing.map((r) => [r.path, r.message])).toEqual([
      ['properties.dataSources.syslog[0]', 'not available on this platform/build: source type syslog; skipped'],
      ['properties.dataSources.windowsEventLogs[0]', 'not available on this platform/build: source type windows_event_log; skipped'],
      ['properties.dataSources.performanceCounters[0]', 'not available on this platform/build: source type performance_counters; skipped'],
    ]);
  });

  it('accepts the properties object alone, with paths relative to it', () => {
    const m = mapDcrToSources(exampleDcr().properties, coreRegistry);
    expect(Object.keys(m.sources)).toEqual(['dcr-apptext', 'dcr-iis']);
    expect(at(m.report, 'dataSources.syslog[0]')).toHaveLength(1);
    expect(at(m.report, 'dataFlows[1].transformKql')).toHaveLength(1);
  });
});

describe('mapDcrToSources: what is reported', () => {
  it('skips unknown data source kinds with a warning', () => {
    const d = exampleDcr();
    props(d).dataSources.extension = [{ name: 'ext', streams: ['Microsoft-Whatever'], extensionName: 'X' }];
    props(d).dataSources.prometheusForwarder = [{ name: 'prom', streams: ['Microsoft-PrometheusMetrics'] }];
    const m = mapDcrToSources(d, fullRegistry);
    expect(at(m.report, 'properties.dataSources.extension')).toEqual([
      { path: 'properties.dataSources.extension', severity: 'warning', message: 'data source kind "extension" is not supported by OMA: skipped (1 entry)' },
    ]);
    expect(at(m.report, 'properties.dataSources.prometheusForwarder')[0]?.severity).toBe('warning');
    expect(Object.keys(m.sources)).toHaveLength(5);
  });

  it('skips unsupported streams, and the data source when none is left', () => {
    const d = exampleDcr();
    const ds = props(d).dataSources;
    ds.syslog!.push({ name: 'cef', streams: ['Microsoft-CommonSecurityLog'], facilityNames: ['local4'], logLevels: ['*'] });
    ds.performanceCounters![0]!.streams = ['Microsoft-Perf', 'Microsoft-InsightsMetrics'];
    ds.windowsEventLogs!.push({ name: 'sec', streams: ['Microsoft-SecurityEvent'], xPathQueries: ['Security!*'] });
    props(d).dataFlows.push({ streams: ['Microsoft-CommonSecurityLog', 'Microsoft-InsightsMetrics', 'Microsoft-SecurityEvent'], destinations: ['law'] });
    const m = mapDcrToSources(d, fullRegistry);
    expect(at(m.report, 'properties.dataSources.syslog[1].streams[0]')[0]).toMatchObject({ severity: 'warning', message: expect.stringMatching(/CommonSecurityLog.*CEF/) });
    expect(at(m.report, 'properties.dataSources.syslog[1]')[0]).toMatchObject({ severity: 'warning', message: expect.stringMatching(/skipped: none of its streams/) });
    expect(at(m.report, 'properties.dataSources.performanceCounters[0].streams[1]')[0]).toMatchObject({ severity: 'warning', message: expect.stringMatching(/InsightsMetrics/) });
    expect(at(m.report, 'properties.dataSources.windowsEventLogs[1].streams[0]')[0]).toMatchObject({ severity: 'warning', message: expect.stringMatching(/SecurityEvent/) });
    expect(Object.keys(m.sources).sort()).toEqual(['dcr-apptext', 'dcr-iis', 'dcr-perf60', 'dcr-syslogbase', 'dcr-winevents']);
    expect(errors(m.report)).toEqual([]);
  });

  it('skips logFiles with format json', () => {
    const d = exampleDcr();
    props(d).dataSources.logFiles![0]!.format = 'json';
    const m = mapDcrToSources(d, fullRegistry);
    expect(at(m.report, 'properties.dataSources.logFiles[0].format')).toEqual([
      { path: 'properties.dataSources.logFiles[0].format', severity: 'warning', message: 'format json is not supported yet: data source skipped' },
    ]);
    expect(m.sources['dcr-apptext']).toBeUndefined();
  });

  it('reports invalid facility names, levels, sampling frequency and timestamp format as errors', () => {
    const d = exampleDcr();
    const ds = props(d).dataSources;
    ds.syslog![0]!.facilityNames = ['auth', 'kernel'];
    ds.syslog![0]!.logLevels = ['warning', 'Loud'];
    ds.performanceCounters![0]!.samplingFrequencyInSeconds = 3600;
    (ds.logFiles![0]!.settings as { text: Record<string, unknown> }).text.recordStartTimestampFormat = 'YYYY/MM/DD';
    ds.windowsEventLogs![0]!.xPathQueries = ['*[System[(Level=1)]]'];
    const m = mapDcrToSources(d, fullRegistry);
    expect(errors(m.report).map((r) => r.path)).toEqual([
      'properties.dataSources.syslog[0].facilityNames[1]',
      'properties.dataSources.syslog[0].logLevels[1]',
      'properties.dataSources.windowsEventLogs[0].xPathQueries[0]',
      'properties.dataSources.performanceCounters[0].samplingFrequencyInSeconds',
      'properties.dataSources.logFiles[0].settings.text.recordStartTimestampFormat',
    ]);
    expect(at(m.report, 'properties.dataSources.syslog[0].facilityNames[1]')[0]!.message).toMatch(/unknown facility "kernel"/);
    expect(at(m.report, 'properties.dataSources.performanceCounters[0].samplingFrequencyInSeconds')[0]!.message).toMatch(/from 1 to 1800/);
    expect(at(m.report, 'properties.dataSources.logFiles[0].settings.text.recordStartTimestampFormat')[0]!.message).toMatch(/ISO 8601 \| YYYY-MM-DD HH:MM:SS/);
    // A level in another case is accepted and written the DCR way.
    expect(at(m.report, 'properties.dataSources.syslog[0].logLevels[0]')).toEqual([]);
  });

  it('reports missing required fields', () => {
    const m = mapDcrToSources(
      {
        properties: {
          dataSources: {
            syslog: [{ streams: ['Microsoft-Syslog'], facilityNames: ['*'] }],
            performanceCounters: [{ name: 'p', streams: ['Microsoft-Perf'] }],
            logFiles: [{ name: 'l' }],
          },
        },
      },
      fullRegistry,
    );
    expect(errors(m.report).map((r) => `${r.path}: ${r.message}`)).toEqual([
      'properties.dataSources.syslog[0].name: missing (required: the source id is dcr-<name>)',
      'properties.dataSources.syslog[0].logLevels: missing (required)',
      'properties.dataSources.performanceCounters[0].samplingFrequencyInSeconds: missing (required)',
      'properties.dataSources.performanceCounters[0].counterSpecifiers: missing (required)',
      'properties.dataSources.logFiles[0].streams: missing (required)',
      'properties.dataSources.logFiles[0].filePatterns: missing (required)',
      'properties.dataSources.logFiles[0].format: missing (required: text)',
    ]);
    expect(m.sources).toEqual({});
  });

  it('validates the mapped options with the source schema, reporting paths inside the DCR', () => {
    const d = exampleDcr();
    props(d).dataSources.logFiles![0]!.filePatterns = ['/var/log/app/*.log', ''];
    const m = mapDcrToSources(d, coreRegistry);
    expect(errors(m.report)).toEqual([
      { path: 'properties.dataSources.logFiles[0].filePatterns[1]', severity: 'error', message: expect.any(String) },
    ]);
  });

  it('reports a table name the custom_log schema refuses at the dataFlow outputStream it came from', () => {
    const d = exampleDcr();
    props(d).dataFlows[4]!.outputStream = 'Custom-App Text_CL';
    const m = mapDcrToSources(d, coreRegistry);
    expect(errors(m.report).map((r) => r.path)).toEqual(['properties.dataFlows[4].outputStream']);
  });

  it('takes the table from the stream when no dataFlow names an outputStream', () => {
    const d = exampleDcr();
    delete props(d).dataFlows[4]!.outputStream;
    props(d).dataSources.logFiles!.push({ name: 'other', streams: ['Custom-Other_CL'], filePatterns: ['/x/*.log'], format: 'text' });
    props(d).dataFlows.push({ streams: ['Custom-Other_CL'], destinations: ['law'] });
    const m = mapDcrToSources(d, coreRegistry);
    expect(m.sources['dcr-apptext']).toMatchObject({ table: 'AppText_CL' });
    expect(m.sources['dcr-other']).toMatchObject({ table: 'Other_CL' });
    expect(at(m.report, 'properties.dataSources.logFiles[1].streams[0]')[0]).toMatchObject({ severity: 'warning', message: expect.stringMatching(/not declared in streamDeclarations/) });
  });

  it('skips a data source whose stream is in no dataFlow', () => {
    const d = exampleDcr();
    props(d).dataFlows.splice(4, 1);
    const m = mapDcrToSources(d, coreRegistry);
    expect(Object.keys(m.sources)).toEqual(['dcr-iis']);
    expect(at(m.report, 'properties.dataSources.logFiles[0].streams[0]')[0]!.message).toMatch(/in no dataFlow/);
  });

  it('derives ids from names and refuses clashes, between data sources and with the config file', () => {
    expect(dcrSourceId('My App.Logs')).toBe('dcr-my_app_logs');
    expect(dcrSourceId('x'.repeat(100))).toHaveLength(64);
    const d = exampleDcr();
    props(d).dataSources.iisLogs![0]!.name = 'AppText';
    const m = mapDcrToSources(d, fullRegistry, { reservedIds: ['dcr-syslogbase'] });
    expect(errors(m.report)).toEqual([
      expect.objectContaining({ path: 'properties.dataSources.syslog[0].name', message: expect.stringMatching(/config file's sources already use/) }),
      expect.objectContaining({ path: 'properties.dataSources.iisLogs[0].name', message: expect.stringMatching(/"dcr-apptext", already used by properties\.dataSources\.logFiles\[0\]/) }),
    ]);
  });

  it('maps custom stream names to tables', () => {
    expect(customStreamTable('Custom-AppText')).toBe('AppText_CL');
    expect(customStreamTable('Custom-AppText_CL')).toBe('AppText_CL');
    expect(customStreamTable('Microsoft-Syslog')).toBeUndefined();
  });

  it('reports documents that are not a DCR', () => {
    expect(mapDcrToSources([1, 2], coreRegistry).report).toEqual([expect.objectContaining({ path: '(root)', severity: 'error' })]);
    expect(mapDcrToSources({ resources: [] }, coreRegistry).report[0]).toMatchObject({ path: 'resources', severity: 'error' });
    expect(mapDcrToSources({ kind: 'Direct', properties: { dataFlows: [] } }, coreRegistry).report).toEqual([
      expect.objectContaining({ path: 'properties.dataSources', severity: 'error', message: expect.stringMatching(/kind Direct/) }),
    ]);
    expect(mapDcrToSources({ properties: { dataSources: { logFiles: {} } } }, coreRegistry).report).toEqual([
      expect.objectContaining({ path: 'properties.dataSources.logFiles', severity: 'error', message: 'expected a list of data sources' }),
    ]);
  });

  it('warns about unknown keys of a data source and ignores them', () => {
    const d = exampleDcr();
    props(d).dataSources.iisLogs![0]!.transformKql = 'source';
    const m = mapDcrToSources(d, fullRegistry);
    expect(at(m.report, 'properties.dataSources.iisLogs[0].transformKql')[0]?.severity).toBe('warning');
    expect(m.sources['dcr-iis']).toEqual({ type: 'iis_log', logDirectories: ['C:\\inetpub\\logs\\LogFiles\\W3SVC1'] });
  });
});

describe('ComponentRegistry: DCR kinds', () => {
  it('finds the source type that reads a kind, and refuses two types for one kind', () => {
    expect(fullRegistry.dcrSource('syslog')?.type).toBe('syslog');
    expect(fullRegistry.dcrSource('logFiles')?.type).toBe('custom_log');
    expect(coreRegistry.dcrSource('syslog')).toBeUndefined();
    expect(() => new ComponentRegistry([customLogSource, platformSource('other_log', z.object({}), { ...iisLogDcr, kind: 'logFiles' })])).toThrow(
      /two source types read the data collection rule's logFiles data sources: custom_log and other_log/,
    );
  });
});
