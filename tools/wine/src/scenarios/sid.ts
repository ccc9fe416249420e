/**
 * Under Wine: the SID resolver of @oma/windows (ConvertStringSidToSidW + LookupAccountSidW through
 * koffi) on Wine's advapi32, which knows the well-known accounts. Records what it observes; the
 * assertions are in sid.test.ts.
 */
import { createSidResolver } from '@oma/windows';
import { attempt, scenario, type RecordedError } from './harness.js';

export interface SidScenarioArgs {
  readonly sids: readonly string[];
}

export interface SidScenarioResult {
  readonly names: Record<string, { value?: string | null; error?: RecordedError }>;
}

scenario<SidScenarioArgs, SidScenarioResult>((args) => {
  const resolve = createSidResolver();
  const names: SidScenarioResult['names'] = {};
  for (const sid of args.sids) {
    const r = attempt(() => resolve(sid) ?? null);
    names[sid] = r.error ? { error: r.error } : { value: r.value ?? null };
  }
  return Promise.resolve({ names });
});
