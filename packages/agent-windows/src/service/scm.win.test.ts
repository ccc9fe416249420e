// The real advapi32 adapters against this machine's SCM and event log. Needs Windows and an elevated
// shell (the GitHub Actions windows-latest runner is one); skipped elsewhere.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';

function win32Of(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { win32?: number }).win32;
  }
  return undefined;
}

describe.runIf(process.platform === 'win32')('advapi32 adapters on this Windows host (skipped elsewhere: they need Windows)', () => {
  it('creates, queries and deletes a service with its description, delayed start and failure actions', async () => {
    const { createServiceControlManager } = await import('./scm.js');
    const scm = createServiceControlManager();
    const name = `oma-test-${randomBytes(4).toString('hex')}`;
    scm.install({
      name,
      displayName: `OMA test ${name}`,
      description: 'created by the OMA tests',
      binaryPath: `"${process.execPath}" -e "setTimeout(() => {}, 1000)"`,
      startType: 'automatic',
      delayedStart: true,
      failureActions: { restartDelaysMs: [60_000, 60_000, 300_000], resetPeriodSec: 86_400 },
      preshutdownTimeoutMs: 30_000,
    });
    try {
      expect(scm.query(name)).toMatchObject({ state: 'stopped', pid: 0 });
      const again = { name, displayName: name, description: '', binaryPath: 'x', startType: 'manual', delayedStart: false, failureActions: { restartDelaysMs: [], resetPeriodSec: 0 }, preshutdownTimeoutMs: 1000 } as const;
      expect(win32Of(() => scm.install(again))).toBe(1073);
      expect(win32Of(() => scm.stop(name))).toBe(1062);
    } finally {
      scm.uninstall(name);
    }
    expect(scm.query(`oma-none-${name}`)).toBeUndefined();
  });

  it('registers an event source, writes an event as it and removes the source', async () => {
    const { createEventLogWriter, createEventSourceRegistry } = await import('./scm.js');
    const source = `OMA-test-${randomBytes(4).toString('hex')}`;
    const registry = createEventSourceRegistry();
    registry.register('Application', source, '%SystemRoot%\\Microsoft.NET\\Framework64\\v4.0.30319\\EventLogMessages.dll');
    try {
      const writer = createEventLogWriter(source);
      writer.report('error', 3000, `event from ${source}`);
      writer.close();
    } finally {
      registry.unregister('Application', source);
    }
  });
});
