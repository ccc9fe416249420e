export { createPlatform, platform, programDataDir } from './platform.js';
export { windowsComputerName, windowsHostInfo, windowsVersion, type WindowsHostInfoDeps } from './host-info.js';
export { privateIPs } from '@oma/core';
export {
  counterSpecifierWarnings,
  DEFAULT_COUNTER_GROUPS,
  formatCounterPath,
  parseCounterPath,
  windowsPerformanceCountersConfigSchema,
  windowsPerformanceCountersDcr,
  windowsPerformanceCountersSource,
  WindowsPerformanceCountersSource,
  type CounterPath,
  type WindowsPerformanceCountersConfig,
} from './sources/performance_counters/index.js';
export * from './sources/windows_event_log/index.js';
export * from './service/index.js';
