import { AgentError, type Platform } from '@oma/core';
import { windowsHostInfo } from './host-info.js';
import { windowsEventLogSource } from './sources/windows_event_log/index.js';

export const platform = 'windows';

/** The Windows platform: its source types, host facts from the registry, files under %ProgramData%\OMA. */
export function createPlatform(): Platform {
  return {
    name: platform,
    hostInfo: windowsHostInfo(),
    components: [
      windowsEventLogSource(() => {
        throw new AgentError('OMA_ERR_NATIVE_LOAD', 'the Event Log binding is not built in');
      }),
    ],
    defaults: { dataDir: 'C:\\ProgramData\\OMA' },
  };
}
