import type { DcrSourceMapping, SourceDefinition } from '@oma/core';
import { syslogConfigSchema } from './config.js';
import { SYSLOG_FACILITIES, SYSLOG_LEVELS } from './names.js';
import { SyslogSource, type SyslogDeps } from './syslog.js';
import { SyslogListeners } from './transports/shared.js';

export { syslogConfigSchema, type SyslogConfig } from './config.js';
export { SyslogSource, type SyslogAddresses, type SyslogDeps } from './syslog.js';
export { SyslogListenError } from './errors.js';
export { SyslogListeners } from './transports/shared.js';
export { SYSLOG_FACILITIES, SYSLOG_LEVELS } from './names.js';
export {
  DROP_BINARY,
  DROP_EMPTY,
  FORMAT_RFC3164,
  FORMAT_RFC5424,
  FORMAT_UNPARSED,
  ParsedSyslog,
  parseSyslog,
  type ParseResult,
} from './parse.js';
export { SyslogEncoder, makePeer, type Peer } from './encode.js';

/** How a DCR's `syslog` data sources become syslog sources: facilityNames and logLevels. */
export const syslogDcrMapping: DcrSourceMapping = {
  kind: 'syslog',
  streams: ['Microsoft-Syslog'],
  keys: ['name', 'streams', 'facilityNames', 'logLevels'],
  unsupported: { 'Microsoft-CommonSecurityLog': 'CEF messages (CommonSecurityLog) are not collected by OMA' },
  fromDcr(reader) {
    const facilities = reader.enumList('facilityNames', SYSLOG_FACILITIES, 'facility');
    const levels = reader.enumList('logLevels', SYSLOG_LEVELS, 'log level');
    if (facilities) reader.set('facilities', facilities, ['facilityNames']);
    if (levels) reader.set('levels', levels, ['logLevels']);
    // A DCR names no transport: the agent listens where AMA does, and every syslog data source of the
    // rule shares these listeners (one socket each, each source filtering what it collects).
    reader.set('udp', { host: DCR_SYSLOG_DEFAULTS.host, port: DCR_SYSLOG_DEFAULTS.udpPort }, []);
    reader.set('tcp', { host: DCR_SYSLOG_DEFAULTS.host, port: DCR_SYSLOG_DEFAULTS.tcpPort }, []);
    reader.set('unix', { path: DCR_SYSLOG_DEFAULTS.socketPath }, []);
  },
};

/**
 * Where a syslog source made from a DCR listens: TCP 127.0.0.1:28330 (AMA's port, where
 * `oma syslog configure` points rsyslog and syslog-ng), UDP 127.0.0.1:25224 (the OMS agent's) and the
 * unix socket /run/oma/syslog.sock (in the systemd unit's RuntimeDirectory).
 */
export const DCR_SYSLOG_DEFAULTS = {
  host: '127.0.0.1',
  tcpPort: 28330,
  udpPort: 25224,
  socketPath: '/run/oma/syslog.sock',
} as const;

/**
 * The `syslog` source type. The platform passes the datagram bindings it has (agent-linux: the
 * `unixdgram` addon, for the unix socket and for UDP); the unix one is asked for only when a config uses
 * the `unix` transport. The sources of one definition share their listeners by address.
 */
export function syslogSource(deps: SyslogDeps): SourceDefinition<typeof syslogConfigSchema> {
  // One set of listeners for every syslog source of the agent: sources on the same address share a socket.
  const shared: SyslogDeps = { ...deps, listeners: deps.listeners ?? new SyslogListeners() };
  return {
    kind: 'source',
    type: 'syslog',
    description: 'Syslog messages received on UDP, TCP (LF or octet-counted) and a unix datagram socket, into the Syslog table.',
    schema: syslogConfigSchema,
    create: (config, ctx) => new SyslogSource(config, ctx, shared),
    outputTables: () => ['Syslog'],
    dcr: syslogDcrMapping,
  };
}
