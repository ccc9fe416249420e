import type { HostInfo } from '@oma/core';
import { windowsHostInfo } from './host-info.js';

export const platform = 'windows';

/** What the CLI gets from the platform package it loads for this OS. */
export interface Platform {
  readonly hostInfo: HostInfo;
}

export function createPlatform(): Platform {
  return { hostInfo: windowsHostInfo() };
}
