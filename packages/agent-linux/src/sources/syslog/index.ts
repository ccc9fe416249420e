import type { DcrSourceMapping, SourceDefinition } from '@oma/core';
import { syslogConfigSchema } from './config.js';
import { SYSLOG_FACILITIES, SYSLOG_LEVELS } from './names.js';
import { SyslogSource, type SyslogDeps } from './syslog.js';

export { syslogConfigSchema, type SyslogConfig } from './config.js';
export { SyslogSource, type SyslogAddresses, type SyslogDeps } from './syslog.js';
export { SyslogListenError } from './errors.js';
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
  },
};

/**
 * The `syslog` source type. The platform passes the unix datagram binding it has (agent-linux: the
 * `unixdgram` addon); it is asked for only when a config uses the `unix` transport.
 */
export function syslogSource(deps: SyslogDeps): SourceDefinition<typeof syslogConfigSchema> {
  return {
    kind: 'source',
    type: 'syslog',
    description: 'Syslog messages received on UDP, TCP (LF or octet-counted) and a unix datagram socket, into the Syslog table.',
    schema: syslogConfigSchema,
    create: (config, ctx) => new SyslogSource(config, ctx, deps),
    outputTables: () => ['Syslog'],
    dcr: syslogDcrMapping,
  };
}
