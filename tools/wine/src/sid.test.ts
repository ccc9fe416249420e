import { beforeAll, describe, expect, it } from 'vitest';
import type { SidScenarioResult } from './scenarios/sid.js';
import { WINE_SKIP_REASON, WINE_TESTS_ENABLED } from './enabled.js';
import { runScenario } from './wine.js';

const SYSTEM = 'S-1-5-18';
const ADMINISTRATORS = 'S-1-5-32-544';
/** A domain-style SID no account maps to. */
const UNMAPPED = 'S-1-5-21-1111111111-2222222222-3333333333-4242';

describe.skipIf(!WINE_TESTS_ENABLED)(`SID resolver under Wine${WINE_TESTS_ENABLED ? '' : ` (skipped: ${WINE_SKIP_REASON})`}`, () => {
  let r: SidScenarioResult;
  beforeAll(async () => {
    r = await runScenario<SidScenarioResult>('sid', { sids: [SYSTEM, ADMINISTRATORS, UNMAPPED, 'not-a-sid'] }, { timeoutMs: 120_000 });
  });

  it('names well-known accounts DOMAIN\\user, as the Event table\'s UserName had them', () => {
    expect(r.names[SYSTEM]).toEqual({ value: 'NT AUTHORITY\\SYSTEM' });
    expect(r.names[ADMINISTRATORS]).toEqual({ value: 'BUILTIN\\Administrators' });
  });

  it('keeps an unmapped SID (undefined: the source keeps the SID) and refuses a string that is no SID', () => {
    expect(r.names[UNMAPPED]).toEqual({ value: null });
    expect(r.names['not-a-sid']?.error).toMatchObject({ code: 'OMA_ERR_NATIVE', call: 'ConvertStringSidToSidW' });
  });
});
