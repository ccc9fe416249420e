import { genericPlatform, type Platform, type PlatformModule } from '@oma/core';

export type { Platform } from '@oma/core';

/**
 * Loads the platform package for this OS through a guarded dynamic import (each is typed against
 * core's `PlatformModule`); another OS gets core's generic platform.
 */
export async function loadPlatform(): Promise<Platform> {
  let mod: PlatformModule | undefined;
  if (process.platform === 'linux') mod = await import('@oma/linux');
  else if (process.platform === 'win32') mod = await import('@oma/windows');
  return mod ? mod.createPlatform() : genericPlatform(process.platform);
}
