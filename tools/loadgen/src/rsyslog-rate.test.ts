import { spawnSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import { blastAvailable, type sendBlast } from './blast.js';
import { measureRsyslogUdp } from './rsyslog-rate.js';

// Counts the sends that go through oma-blast (the real one runs).
const blastCalls = vi.hoisted(() => ({ n: 0 }));
vi.mock('./blast.js', async (importOriginal) => {
  const real: { sendBlast: typeof sendBlast } = await importOriginal();
  return {
    ...real,
    sendBlast: (...args: Parameters<typeof sendBlast>) => {
      blastCalls.n++;
      return real.sendBlast(...args);
    },
  };
});

const hasRsyslogd = spawnSync('rsyslogd', ['-v'], { stdio: 'ignore' }).status === 0;

describe.runIf(process.platform === 'linux' && blastAvailable() && hasRsyslogd)('rsyslog-rate with oma-blast', () => {
  it('fast: the step is sent by oma-blast and counted line by line in rsyslog’s file, with its CPU per message', async () => {
    const step = await measureRsyslogUdp(20_000, { durationSec: 1, sizeBytes: 150, rcvbufBytes: 4 << 20, fast: true });
    expect(blastCalls.n).toBe(1);
    expect(step).toMatchObject({ requestedRate: 20_000, sent: 20_000, written: 20_000, lost: 0, lossFree: true, senderLimited: false });
    expect(step.cpuUsPerMsg).toBeGreaterThan(0);
  });
});
