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
export { createEventLogBinding, providerName, type EventLogBindingOptions, type EventLogWaitMode } from './native/wevtapi.js';
export { createSidResolver, type SidLookup } from './native/sid.js';
export { createPdhBinding, pathInstance, type PdhBindingOptions } from './native/pdh.js';
export { DLL_OVERRIDE_ENV, dllPath, type DllName } from './native/load.js';
