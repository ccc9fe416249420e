import { AgentError, type Platform, type UnixDatagramBinding } from '@oma/core';
import { linuxHostInfo } from './host-info.js';
import { syslogSource } from './sources/syslog/index.js';

export const platform = 'linux';

/** The Linux platform: its source types, host facts from /etc/os-release, files under /var/opt/oma. */
export function createPlatform(): Platform {
  return {
    name: platform,
    hostInfo: linuxHostInfo(),
    components: [syslogSource({ unixDatagram: unixDatagramUnavailable })],
    defaults: { dataDir: '/var/opt/oma' },
  };
}

/** The unix datagram binding until this build has one: the `unix` syslog transport says so clearly. */
function unixDatagramUnavailable(): UnixDatagramBinding {
  throw new AgentError('OMA_ERR_NATIVE_LOAD', 'the unix syslog transport needs the unixdgram addon, which this build does not include; use udp or tcp');
}
