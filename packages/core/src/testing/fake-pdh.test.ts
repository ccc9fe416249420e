import { pdhContract } from './contracts/pdh.js';
import { FakeClock } from './fake-clock.js';
import { FakePdh } from './fake-pdh.js';

const BOOT = Date.UTC(2026, 0, 1);

await pdhContract(
  'fake',
  () => {
    const clock = new FakeClock(BOOT + 3_600_000);
    const fake = new FakePdh(() => clock.now())
      .defineObject('System', { counters: { 'System Up Time': 'instant', 'Processor Queue Length': 'instant' } })
      .defineObject('Processor', { counters: { '% Processor Time': 'rate' }, instances: ['0', '_Total'] })
      .setRaw('System', 'System Up Time', '', (now) => (now - BOOT) / 1000);
    return Promise.resolve({ binding: fake, fake, elapse: (ms) => clock.advance(ms), dispose: () => Promise.resolve() });
  },
  { scriptable: true },
);
