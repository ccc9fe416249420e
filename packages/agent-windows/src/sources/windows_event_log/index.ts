import type { DcrEntryReader, DcrSourceMapping, SourceDefinition, EventLogBinding } from '@oma/core';
import { windowsEventLogConfigSchema } from './config.js';
import type { SidResolver } from './map.js';
import { MAX_XPATH_QUERIES, parseXPathQuery } from './query.js';
import { WindowsEventLogSource } from './windows-event-log.js';

export { EVENT_LOG_TABLES, windowsEventLogConfigSchema, type EventLogChannelConfig, type WindowsEventLogConfig } from './config.js';
export { decodeXmlText, readEventXml, type EventDataValue, type EventXmlFields } from './event-xml.js';
export {
  NO_USER,
  eventDataObject,
  eventLevelName,
  eventRecord,
  mapEventRecord,
  normalizeSystemTime,
  parameterXml,
  windowsEventLevelName,
  windowsEventRecord,
  type EventMapContext,
  type SidResolver,
} from './map.js';
export { LEVEL_NAMES, MAX_XPATH_QUERIES, filterXPath, groupChannelQueries, parseXPathQuery, structuredQuery, type ChannelQuery, type LevelName, type XPathQuery } from './query.js';
export { CHANNEL_RETRY_MS, READ_RETRY_MS, WindowsEventLogSource, configChannelQueries, type WindowsEventLogSourceDeps } from './windows-event-log.js';

/** DCR stream → the table it fills. */
const STREAM_TABLES: Readonly<Record<string, string>> = { 'Microsoft-Event': 'Event', 'Microsoft-WindowsEvent': 'WindowsEvent' };

/** Reads a `windowsEventLogs` data source of a DCR: its xPathQueries (each checked), and the table of the stream collected. */
function fromDcr(reader: DcrEntryReader): void {
  const queries = reader.stringList('xPathQueries', true);
  if (!queries) return;
  if (queries.length > MAX_XPATH_QUERIES) {
    reader.error(['xPathQueries'], `${queries.length} XPath queries: a data source takes at most ${MAX_XPATH_QUERIES}`);
    return;
  }
  let ok = true;
  queries.forEach((q, i) => {
    const parsed = parseXPathQuery(q);
    if (typeof parsed === 'string') {
      reader.error(['xPathQueries', i], parsed);
      ok = false;
    }
  });
  if (!ok) return;
  reader.set('xPathQueries', queries, ['xPathQueries']);
  // The mapper collects the first supported stream of the entry: its table follows it.
  const streams = Array.isArray(reader.entry.streams) ? (reader.entry.streams as unknown[]) : [];
  const i = streams.findIndex((s) => typeof s === 'string' && STREAM_TABLES[s] !== undefined);
  if (i >= 0) reader.set('table', STREAM_TABLES[streams[i] as string], ['streams', i]);
}

export const windowsEventLogDcr: DcrSourceMapping = {
  kind: 'windowsEventLogs',
  streams: Object.keys(STREAM_TABLES),
  keys: ['name', 'streams', 'xPathQueries'],
  unsupported: {
    'Microsoft-SecurityEvent': 'the SecurityEvent table (Microsoft Sentinel) is not supported by OMA; collect Security events to Event or WindowsEvent',
  },
  fromDcr,
};

export interface WindowsEventLogSourceOptions {
  /** SID → DOMAIN\user for UserName (LookupAccountSidW on Windows); without it UserName is the SID. */
  readonly resolveSid?: SidResolver;
}

/**
 * The `windows_event_log` source type over an Event Log binding. `binding` is called at each start, so
 * that a host where it cannot be made (wevtapi.dll not loadable) fails only this source, once, at its start.
 */
export function windowsEventLogSource(binding: () => EventLogBinding, opts: WindowsEventLogSourceOptions = {}): SourceDefinition<typeof windowsEventLogConfigSchema> {
  return {
    kind: 'source',
    type: 'windows_event_log',
    description: 'Events of Windows event channels (XPath queries as in a DCR, or channels with levels and event ids) into Event or WindowsEvent.',
    schema: windowsEventLogConfigSchema,
    create: (config, ctx) => new WindowsEventLogSource(config, ctx, binding, opts.resolveSid ? { resolveSid: opts.resolveSid } : {}),
    outputTables: (config) => [config.table],
    dcr: windowsEventLogDcr,
  };
}
