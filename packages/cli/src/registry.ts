import { ComponentRegistry, coreComponents } from '@oma/core';
import type { Platform } from './platform.js';

/** Every component type this build of OMA knows on this platform. */
export function buildRegistry(platform: Pick<Platform, 'components'>): ComponentRegistry {
  return new ComponentRegistry([...coreComponents(), ...platform.components]);
}
