import type { Platform } from '@oma/core';
import { windowsHostInfo } from './host-info.js';

export const platform = 'windows';

/** The Windows platform: its source types, host facts from the registry, files under %ProgramData%\OMA. */
export function createPlatform(): Platform {
  return {
    name: platform,
    hostInfo: windowsHostInfo(),
    components: [],
    defaults: { dataDir: 'C:\\ProgramData\\OMA' },
  };
}
