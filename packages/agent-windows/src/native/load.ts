import { createRequire } from 'node:module';
import { AgentError } from '@oma/core';
import type * as Koffi from 'koffi';

/** koffi's module, as its type declarations describe it. */
export type KoffiModule = typeof Koffi;
/** A DLL loaded by koffi. */
export type KoffiLibrary = Koffi.LibraryHandle;

/** The DLLs the Windows agent calls, each declared once in `native/<dll>.ts`. */
export type DllName = 'kernel32' | 'wevtapi' | 'pdh' | 'advapi32';

/**
 * Environment variables that replace a DLL by a full path, for tests: the Wine tests load a test
 * double of wevtapi.dll built by this repo (Wine has no event log). Unset, the system's DLL is loaded.
 */
export const DLL_OVERRIDE_ENV: Readonly<Record<DllName, string>> = {
  kernel32: 'OMA_KERNEL32_DLL',
  wevtapi: 'OMA_WEVTAPI_DLL',
  pdh: 'OMA_PDH_DLL',
  advapi32: 'OMA_ADVAPI32_DLL',
};

const require = createRequire(import.meta.url);
let koffi: KoffiModule | undefined;
const libraries = new Map<DllName, KoffiLibrary>();

/**
 * The one place the Windows agent loads native code. koffi is required on first use, so this
 * module (and every module importing it) loads on Linux without loading koffi's binary or any DLL.
 * A failure is an `AgentError` OMA_ERR_NATIVE_LOAD.
 */
export function loadKoffi(): KoffiModule {
  if (process.platform !== 'win32') {
    throw new AgentError('OMA_ERR_NATIVE_LOAD', `the Windows bindings need Windows; this is ${process.platform}`);
  }
  return requireKoffi();
}

/**
 * koffi itself, on any OS (its type and prototype parser runs anywhere: the tests check the Windows
 * declarations on Linux with it); loading a DLL goes through `loadLibrary`.
 */
export function requireKoffi(): KoffiModule {
  if (koffi !== undefined) return koffi;
  try {
    koffi = require('koffi') as KoffiModule;
  } catch (cause) {
    throw new AgentError(
      'OMA_ERR_NATIVE_LOAD',
      `koffi failed to load: ${(cause as Error).message}; its binary comes in @koromix/koffi-win32-${process.arch}`,
      { cause },
    );
  }
  return koffi;
}

/** The path koffi loads for `dll`: the override from the environment, or the system's `<dll>.dll`. */
export function dllPath(dll: DllName, env: NodeJS.ProcessEnv = process.env): string {
  const override = env[DLL_OVERRIDE_ENV[dll]];
  return override !== undefined && override !== '' ? override : `${dll}.dll`;
}

/** Loads `dll` once per process (koffi.load); OMA_ERR_NATIVE_LOAD names the path when it fails. */
export function loadLibrary(dll: DllName): { koffi: KoffiModule; lib: KoffiLibrary } {
  const k = loadKoffi();
  const hit = libraries.get(dll);
  if (hit !== undefined) return { koffi: k, lib: hit };
  const path = dllPath(dll);
  let lib: KoffiLibrary;
  try {
    lib = k.load(path);
  } catch (cause) {
    throw new AgentError('OMA_ERR_NATIVE_LOAD', `${path} failed to load: ${(cause as Error).message}`, { cause });
  }
  libraries.set(dll, lib);
  return { koffi: k, lib };
}

/** A koffi function typed by its TS signature `T` (and its `.async` form). */
export type NativeFunction<T extends (...args: never[]) => unknown> = Koffi.KoffiFunc<T>;

/**
 * Declares `definition` (a C prototype with `__stdcall`) in `lib`, typed as `T` by the caller (the
 * signature must match the prototype); a missing export is OMA_ERR_NATIVE_LOAD.
 */
export function declare<T extends (...args: never[]) => unknown>(lib: KoffiLibrary, dll: DllName, definition: string): NativeFunction<T> {
  try {
    return lib.func(definition) as NativeFunction<T>;
  } catch (cause) {
    throw new AgentError('OMA_ERR_NATIVE_LOAD', `${dll}: ${(cause as Error).message}`, { cause });
  }
}
