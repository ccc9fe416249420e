/**
 * The kernel32 functions the Windows service needs: GetLastError, read right after a failed advapi32
 * call (koffi keeps the thread's last error intact between the two calls).
 */
import { AgentError } from '@oma/core';
import { requireKoffi } from './advapi32.js';

export interface Kernel32Service {
  readonly GetLastError: () => number;
}

let kernel32: Kernel32Service | undefined;

/** Loads kernel32.dll's service helpers (once). Off Windows: OMA_ERR_NATIVE_LOAD. */
export function loadKernel32Service(): Kernel32Service {
  if (kernel32) return kernel32;
  if (process.platform !== 'win32') {
    throw new AgentError('OMA_ERR_NATIVE_LOAD', `kernel32.dll is a Windows library; this is ${process.platform}`);
  }
  const koffi = requireKoffi();
  let lib;
  try {
    lib = koffi.load('kernel32.dll');
  } catch (cause) {
    throw new AgentError('OMA_ERR_NATIVE_LOAD', `kernel32.dll cannot be loaded: ${(cause as Error).message}`, { cause });
  }
  const getLastError = lib.func('uint32 __stdcall GetLastError()');
  kernel32 = { GetLastError: () => getLastError() as number };
  return kernel32;
}
