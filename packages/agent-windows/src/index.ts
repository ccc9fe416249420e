export { createPlatform, platform, programDataDir } from './platform.js';
export { windowsComputerName, windowsHostInfo, windowsVersion, type WindowsHostInfoDeps } from './host-info.js';
export { privateIPs } from '@oma/core';
export * from './service/index.js';
