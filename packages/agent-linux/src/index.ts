export { createPlatform, platform } from './platform.js';
export { loadAddon, type AddonName } from './native/load.js';
export { OS_RELEASE_PATHS, linuxHostInfo, shortHostname, type LinuxHostInfoDeps } from './host-info.js';
export { osVersionFromRelease, parseOsRelease, splitVersion, type OsVersion } from './os-release.js';
export { privateIPs } from '@oma/core';
export {
  nativeUnixDatagram,
  openUdpDatagram,
  nativeUdpDatagram,
  UnixDatagramSender,
  unixDatagramError,
  errnoName,
  MAX_BATCHES_PER_EVENT,
  type UnixDatagramSenderOptions,
  type UnixDatagramSendResult,
} from './native/unix-datagram.js';
export { DCR_SYSLOG_DEFAULTS, syslogConfigSchema } from './sources/syslog/index.js';
