import type { HostInfo } from '@oma/core';
import { linuxHostInfo } from './host-info.js';

export const platform = 'linux';

/** What the CLI gets from the platform package it loads for this OS. */
export interface Platform {
  readonly hostInfo: HostInfo;
}

export function createPlatform(): Platform {
  return { hostInfo: linuxHostInfo() };
}
