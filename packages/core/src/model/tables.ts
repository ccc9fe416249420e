import { col, type Column, COLUMN_NAME_RE } from './columns.js';

/**
 * One definition per Log Analytics table, used by every source, sink, the local workspace and the DCR
 * stream declarations (docs/protocol-notes.md#tables).
 *
 * `kind`: `standard` tables are Azure's own (Syslog, Event, ...); `custom` tables end in `_CL`.
 */
export interface TableSchema {
  readonly name: string;
  readonly kind: 'standard' | 'custom';
  readonly description: string;
  readonly columns: readonly Column[];
}

const TIME = col('TimeGenerated', 'datetime', 'When the record was generated (UTC).');
const COMPUTER = col('Computer', 'string', 'Name of the computer that collected the record.');

export const SYSLOG: TableSchema = {
  name: 'Syslog',
  kind: 'standard',
  description: 'Syslog messages received or read on Linux hosts.',
  columns: [
    TIME,
    col('EventTime', 'datetime', 'Time stamp carried in the message.'),
    COMPUTER,
    col('HostName', 'string', 'Host that sent the message, from the message header.'),
    col('HostIP', 'string', 'IP address of the sender.'),
    col('Facility', 'string', 'Syslog facility keyword (kern, user, daemon, auth, local0, ...).'),
    col('SeverityLevel', 'string', 'Syslog severity keyword (emerg, alert, crit, err, warning, notice, info, debug).'),
    col('ProcessID', 'int', 'Process id from the message, if any.'),
    col('ProcessName', 'string', 'Program name (RFC 3164 tag or RFC 5424 APP-NAME).'),
    col('SyslogMessage', 'string', 'Message text (RFC 5424: structured data, then the message).'),
    col('CollectorHostName', 'string', 'Host of the agent that received the message (the collector when it was forwarded).'),
  ],
};

export const EVENT: TableSchema = {
  name: 'Event',
  kind: 'standard',
  description: 'Windows Event Log records.',
  columns: [
    TIME,
    COMPUTER,
    col('EventLog', 'string', 'Channel the event was read from.'),
    col('Source', 'string', 'Event provider.'),
    col('EventID', 'int', 'Event id.'),
    col('EventCategory', 'int', 'Event category (task).'),
    col('EventLevel', 'int', 'Windows level: 1 Critical, 2 Error, 3 Warning, 4 Information, 5 Verbose.'),
    col('EventLevelName', 'string', 'Error, Warning or Information (Critical shows as Error).'),
    col('UserName', 'string', 'Account the event names, if any.'),
    col('RenderedDescription', 'string', 'Rendered message of the event.'),
    col('ParameterXml', 'string', 'Event parameters as XML.'),
    col('EventData', 'string', 'EventData element as XML.'),
  ],
};

/** Windows events as AMA writes them with the Microsoft-WindowsEvent stream (the payload parsed, not rendered). */
export const WINDOWS_EVENT: TableSchema = {
  name: 'WindowsEvent',
  kind: 'standard',
  description: 'Windows Event Log records with their data parsed (AMA\'s Microsoft-WindowsEvent stream).',
  columns: [
    TIME,
    COMPUTER,
    col('Channel', 'string', 'Channel the event was read from.'),
    col('Provider', 'string', 'Provider that logged the event.'),
    col('EventID', 'int', 'Event id.'),
    col('EventLevel', 'int', 'Windows level: 0 LogAlways, 1 Critical, 2 Error, 3 Warning, 4 Information, 5 Verbose.'),
    col('EventLevelName', 'string', 'Name of the level: Critical, Error, Warning, Information or Verbose.'),
    col('Task', 'int', 'Task of the event.'),
    col('Opcode', 'string', 'Opcode of the event.'),
    col('Keywords', 'string', 'Keywords bit mask as written in the event (hex).'),
    col('Version', 'int', 'Version of the event definition.'),
    col('EventRecordId', 'string', 'Record number the channel gave the event.'),
    col('Correlation', 'string', 'Activity id of the event, if any.'),
    col('SystemProcessId', 'int', 'Process that logged the event.'),
    col('SystemThreadId', 'int', 'Thread that logged the event.'),
    col('SystemUserId', 'string', 'SID of the user the event names, if any.'),
    col('TimeCreated', 'datetime', 'When the event was logged.'),
    col('EventData', 'dynamic', 'The event data as an object: each named value by its name.'),
  ],
};

export const PERF: TableSchema = {
  name: 'Perf',
  kind: 'standard',
  description: 'Performance counter samples.',
  columns: [
    TIME,
    COMPUTER,
    col('ObjectName', 'string', 'Counter object, e.g. Processor or Logical Disk.'),
    col('CounterName', 'string', 'Counter name, e.g. % Processor Time.'),
    col('InstanceName', 'string', 'Counter instance, e.g. _Total or /; empty if none.'),
    col('CounterValue', 'real', 'Sampled value.'),
    col('CounterPath', 'string', 'Full path \\\\Computer\\Object(Instance)\\Counter.'),
  ],
};

export const W3CIISLOG: TableSchema = {
  name: 'W3CIISLog',
  kind: 'standard',
  description: 'IIS access logs in W3C format.',
  columns: [
    TIME,
    COMPUTER,
    col('sSiteName', 'string', 's-sitename'),
    col('sComputerName', 'string', 's-computername'),
    col('sIP', 'string', 's-ip'),
    col('sPort', 'int', 's-port'),
    col('csMethod', 'string', 'cs-method'),
    col('csUriStem', 'string', 'cs-uri-stem'),
    col('csUriQuery', 'string', 'cs-uri-query'),
    col('csUserName', 'string', 'cs-username'),
    col('cIP', 'string', 'c-ip'),
    col('csUserAgent', 'string', 'cs(User-Agent)'),
    col('csReferer', 'string', 'cs(Referer)'),
    col('csHost', 'string', 'cs-host'),
    col('csCookie', 'string', 'cs(Cookie)'),
    col('csVersion', 'string', 'cs-version'),
    col('scStatus', 'string', 'sc-status'),
    col('scSubStatus', 'string', 'sc-substatus'),
    col('scWin32Status', 'string', 'sc-win32-status'),
    col('csBytes', 'long', 'cs-bytes'),
    col('scBytes', 'long', 'sc-bytes'),
    col('TimeTaken', 'long', 'time-taken in milliseconds'),
  ],
};

export const HEARTBEAT: TableSchema = {
  name: 'Heartbeat',
  kind: 'standard',
  description: 'One record per agent per minute, for availability queries.',
  columns: [
    TIME,
    COMPUTER,
    col('Category', 'string', 'Agent category; "Direct Agent" like the Log Analytics agent.'),
    col('SCAgentChannel', 'string', 'Connection channel; "Direct".'),
    col('OSType', 'string', 'Windows or Linux.'),
    col('OSName', 'string', 'Operating system name.'),
    col('OSMajorVersion', 'string', 'Operating system major version.'),
    col('OSMinorVersion', 'string', 'Operating system minor version.'),
    col('Version', 'string', 'OMA version.'),
    col('ComputerPrivateIPs', 'dynamic', 'Private IP addresses of the computer.'),
  ],
};

export const STANDARD_TABLES: readonly TableSchema[] = [SYSLOG, EVENT, WINDOWS_EVENT, PERF, W3CIISLOG, HEARTBEAT];

/** Custom table names end in `_CL` (docs/protocol-notes.md#ingestion-tables). */
export const CUSTOM_TABLE_RE = /^[A-Za-z][A-Za-z0-9_]{0,41}_CL$/;

/** Schema of a custom text-log table (docs/protocol-notes.md#table-custom-text): TimeGenerated, RawData, FilePath, Computer. */
export function customTextLogTable(name: string): TableSchema {
  if (!CUSTOM_TABLE_RE.test(name)) {
    throw new Error(`custom table name must match ${CUSTOM_TABLE_RE.source}: ${name}`);
  }
  return {
    name,
    kind: 'custom',
    description: 'Custom text log.',
    columns: [
      TIME,
      col('RawData', 'string', 'The whole record (one line, or several for multi-line records).'),
      col('FilePath', 'string', 'Path of the file the record was read from.'),
      COMPUTER,
    ],
  };
}

/** Looks a table up by name: a standard table, or a custom text-log table for a `_CL` name. */
export function tableSchema(name: string): TableSchema | undefined {
  const std = STANDARD_TABLES.find((t) => t.name === name);
  if (std) return std;
  return CUSTOM_TABLE_RE.test(name) ? customTextLogTable(name) : undefined;
}

for (const t of STANDARD_TABLES) {
  for (const c of t.columns) {
    if (!COLUMN_NAME_RE.test(c.name)) throw new Error(`bad column name ${t.name}.${c.name}`);
  }
}
