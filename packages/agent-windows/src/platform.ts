import { AgentError, type EventLogBinding, type PdhBinding, type Platform } from '@oma/core';
import { win32 } from 'node:path';
import { windowsHostInfo } from './host-info.js';
import { windowsPerformanceCountersSource } from './sources/performance_counters/index.js';
import { windowsEventLogSource } from './sources/windows_event_log/index.js';

export const platform = 'windows';

/** The PDH binding until the koffi one over pdh.dll is wired in: every start of the source fails with OMA_ERR_NATIVE_LOAD. */
function pdhBinding(): PdhBinding {
  throw new AgentError('OMA_ERR_NATIVE_LOAD', 'the PDH binding is not built in');
}

/** The Event Log binding until the koffi one over wevtapi.dll is wired in. */
function eventLogBinding(): EventLogBinding {
  throw new AgentError('OMA_ERR_NATIVE_LOAD', 'the Event Log binding is not built in');
}

/** %ProgramData%\OMA (C:\ProgramData\OMA unless Windows keeps ProgramData elsewhere). */
export function programDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return win32.join(env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData', 'OMA');
}

/** The Windows platform: its source types, host facts from the registry, files under %ProgramData%\OMA. */
export function createPlatform(): Platform {
  return {
    name: platform,
    hostInfo: windowsHostInfo(),
    components: [windowsEventLogSource(eventLogBinding), windowsPerformanceCountersSource(pdhBinding)],
    defaults: { dataDir: programDataDir() },
  };
}
