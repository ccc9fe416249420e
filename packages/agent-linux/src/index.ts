export { createPlatform, platform, type Platform } from './platform.js';
export { OS_RELEASE_PATHS, linuxHostInfo, shortHostname, type LinuxHostInfoDeps } from './host-info.js';
export { osVersionFromRelease, parseOsRelease, splitVersion, type OsVersion } from './os-release.js';
export { privateIPs } from '@oma/core';
