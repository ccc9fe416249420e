import type { Platform } from '@oma/core';
import { win32 } from 'node:path';
import { windowsHostInfo } from './host-info.js';

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
    components: [],
    defaults: { dataDir: programDataDir() },
  };
}
