/**
 * SID → account name for the Event table's UserName, as the Log Analytics agent filled it
 * (`NT AUTHORITY\\SYSTEM`, `CONTOSO\\alice`): ConvertStringSidToSidW, then LookupAccountSidW on this
 * computer (which asks a domain controller for a domain SID). The source caches each answer, so one
 * SID is looked up once; an unknown or deleted account (ERROR_NONE_MAPPED) keeps the SID.
 */
import { Win32Error } from '@oma/core';
import { loadAdvapi32 } from './advapi32.js';
import { lastError, loadKernel32 } from './kernel32.js';

/** winerror.h: no account maps to the SID. */
const ERROR_NONE_MAPPED = 1332;
const ERROR_INSUFFICIENT_BUFFER = 122;
/** Characters of the first name and domain buffers (account names are at most 256 characters). */
const FIRST_CHARS = 256;

/** Names a SID string (`S-1-5-18`); undefined when no account maps to it. Throws `Win32Error` for other failures. */
export type SidLookup = (sid: string) => string | undefined;

/** The SID resolver over advapi32 (loaded on the first call: OMA_ERR_NATIVE_LOAD off Windows). */
export function createSidResolver(): SidLookup {
  return (sid: string): string | undefined => {
    const api = loadAdvapi32();
    const k32 = loadKernel32();
    const out: [bigint | null] = [null];
    if (!(api.ConvertStringSidToSidW(sid, out) as boolean) || out[0] === null) throw lastError('ConvertStringSidToSidW');
    const psid = out[0];
    try {
      let nameChars = FIRST_CHARS;
      let domainChars = FIRST_CHARS;
      for (let attempt = 0; attempt < 2; attempt++) {
        const name = Buffer.alloc(nameChars * 2);
        const domain = Buffer.alloc(domainChars * 2);
        const cchName: [number] = [nameChars];
        const cchDomain: [number] = [domainChars];
        const use: [number] = [0];
        if (api.LookupAccountSidW(null, psid, name, cchName, domain, cchDomain, use) as boolean) {
          const n = name.toString('utf16le', 0, cchName[0] * 2);
          const d = domain.toString('utf16le', 0, cchDomain[0] * 2);
          return d === '' ? n : `${d}\\${n}`;
        }
        const err = lastError('LookupAccountSidW');
        if (err.win32 === ERROR_NONE_MAPPED) return undefined;
        if (err.win32 !== ERROR_INSUFFICIENT_BUFFER) throw err;
        // The sizes needed came back in the counts (with the terminating NUL).
        nameChars = Math.max(cchName[0], nameChars + 1);
        domainChars = Math.max(cchDomain[0], domainChars + 1);
      }
      throw new Win32Error('LookupAccountSidW', ERROR_INSUFFICIENT_BUFFER, 'the name did not fit the size Windows asked for');
    } finally {
      k32.LocalFree(psid);
    }
  };
}
