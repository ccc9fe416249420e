import type { Platform } from '@oma/core';
import { win32 } from 'node:path';
import { windowsHostInfo } from './host-info.js';
import { createPdhBinding } from './native/pdh.js';
import { createSidResolver } from './native/sid.js';
import { createEventLogBinding } from './native/wevtapi.js';
import { windowsPerformanceCountersSource } from './sources/performance_counters/index.js';
import { windowsEventLogSource } from './sources/windows_event_log/index.js';

export const platform = 'windows';

/** %ProgramData%\OMA (C:\ProgramData\OMA unless Windows keeps ProgramData elsewhere). */
export function programDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return win32.join(env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData', 'OMA');
}

/** The Windows platform: its source types, host facts from the registry, files under %ProgramData%\OMA. */
export function createPlatform(): Platform {
  return {
    name: platform,
    hostInfo: windowsHostInfo(),
    // The bindings are made at each source start, so a host where koffi or a DLL cannot load fails only that source.
    components: [
      windowsEventLogSource(() => createEventLogBinding(), { resolveSid: createSidResolver() }),
      windowsPerformanceCountersSource(() => createPdhBinding()),
    ],
    defaults: { dataDir: programDataDir() },
  };
}
