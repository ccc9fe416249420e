import { Win32Error } from '@oma/core';
import { describe, expect, it } from 'vitest';
import { configureNewService } from './scm.js';
import type { ServiceSpec } from './service-port.js';

const SPEC: ServiceSpec = {
  name: 'oma',
  displayName: 'OMA (Open Monitoring Agent)',
  description: 'd',
  binaryPath: '"node.exe" "oma.js" service run',
  startType: 'automatic',
  delayedStart: true,
  failureActions: { restartDelaysMs: [60_000, 300_000], resetPeriodSec: 86_400 },
  preshutdownTimeoutMs: 60_000,
};

/** A ChangeServiceConfig2W that records the levels it was given and fails some with a Win32 error. */
function change(failures: Record<number, number> = {}) {
  const levels: number[] = [];
  const infos: Record<number, unknown> = {};
  const fn = (level: number, type: string, info: unknown): void => {
    if (failures[level] !== undefined) throw new Win32Error('ChangeServiceConfig2W', failures[level]);
    levels.push(level);
    infos[level] = { type, info };
  };
  return { fn, levels, infos };
}

describe('configureNewService', () => {
  it('sets the description, delayed start, failure actions, the non-crash flag and the preshutdown timeout', () => {
    const c = change();
    let removed = false;
    expect(configureNewService(SPEC, c.fn, () => (removed = true))).toEqual([]);
    expect(c.levels).toEqual([1, 3, 2, 4, 7]);
    expect(c.infos[2]).toEqual({
      type: 'SERVICE_FAILURE_ACTIONSW',
      info: { dwResetPeriod: 86_400, lpRebootMsg: null, lpCommand: null, cActions: 2, lpsaActions: [{ Type: 1, Delay: 60_000 }, { Type: 1, Delay: 300_000 }] },
    });
    expect(c.infos[3]).toEqual({ type: 'SERVICE_DELAYED_AUTO_START_INFO', info: { fDelayedAutostart: 1 } });
    expect(removed).toBe(false);
  });

  it('leaves out the levels an SCM does not know (ERROR_INVALID_LEVEL, as Wine answers) and names them', () => {
    const c = change({ 3: 124, 4: 124 });
    let removed = false;
    expect(configureNewService(SPEC, c.fn, () => (removed = true))).toEqual(['delayed start', 'restart after a failed start']);
    expect(c.levels).toEqual([1, 2, 7]);
    expect(removed).toBe(false);
  });

  it('deletes the service it just created when a setting fails otherwise, and throws that failure', () => {
    let removed = 0;
    expect(() => configureNewService(SPEC, change({ 2: 5 }).fn, () => removed++)).toThrow(/ChangeServiceConfig2W failed: Win32 error 5/);
    expect(removed).toBe(1);
    // The description is not optional either.
    expect(() => configureNewService(SPEC, change({ 1: 124 }).fn, () => removed++)).toThrow(/Win32 error 124/);
    expect(removed).toBe(2);
  });

  it('sets no delayed start on a manual service', () => {
    const c = change();
    configureNewService({ ...SPEC, startType: 'manual', delayedStart: false }, c.fn, () => undefined);
    expect(c.levels).toEqual([1, 2, 4, 7]);
  });
});
