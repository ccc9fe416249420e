export { createPlatform, platform } from './platform.js';
export { windowsComputerName, windowsHostInfo, windowsVersion, type WindowsHostInfoDeps } from './host-info.js';
export { privateIPs } from '@oma/core';
export { createEventLogBinding, providerName, type EventLogBindingOptions, type EventLogWaitMode } from './native/wevtapi.js';
export { createPdhBinding, pathInstance, type PdhBindingOptions } from './native/pdh.js';
export { DLL_OVERRIDE_ENV, dllPath, type DllName } from './native/load.js';
