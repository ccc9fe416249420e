import type { Platform } from '@oma/core';
import { linuxHostInfo } from './host-info.js';
import { NativeJournalBinding } from './native/journal.js';
import { journaldSource } from './sources/journald/index.js';
import { nativeUdpDatagram, nativeUnixDatagram } from './native/unix-datagram.js';
import { performanceCountersSource } from './sources/performance_counters/index.js';
import { syslogSource } from './sources/syslog/index.js';

export const platform = 'linux';

/** The Linux platform: its source types, host facts from /etc/os-release, files under /var/opt/oma. */
export function createPlatform(): Platform {
  return {
    name: platform,
    hostInfo: linuxHostInfo(),
    components: [performanceCountersSource, syslogSource({ unixDatagram: nativeUnixDatagram, udpDatagram: nativeUdpDatagram }), journaldSource(() => new NativeJournalBinding())],
    defaults: { dataDir: '/var/opt/oma' },
  };
}
