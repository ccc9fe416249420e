import { AgentError, type PdhBinding, type Platform } from '@oma/core';
import { windowsHostInfo } from './host-info.js';
import { windowsPerformanceCountersSource } from './sources/performance_counters/index.js';

export const platform = 'windows';

/** The PDH binding until the koffi one over pdh.dll is wired in: every start of the source fails with OMA_ERR_NATIVE_LOAD. */
function pdhBinding(): PdhBinding {
  throw new AgentError('OMA_ERR_NATIVE_LOAD', 'the PDH binding is not built in');
}

/** The Windows platform: its source types, host facts from the registry, files under %ProgramData%\OMA. */
export function createPlatform(): Platform {
  return {
    name: platform,
    hostInfo: windowsHostInfo(),
    components: [windowsPerformanceCountersSource(pdhBinding)],
    defaults: { dataDir: 'C:\\ProgramData\\OMA' },
  };
}
