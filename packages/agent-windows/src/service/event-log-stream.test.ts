import { createRootLogger } from '@oma/core';
import { describe, expect, it } from 'vitest';
import { EventLogStream, eventMessage, OMA_EVENT_IDS } from './event-log-stream.js';
import { FakeEventLogWriter } from './fake.js';

const line = (o: Record<string, unknown>): string => `${JSON.stringify({ time: 1, pid: 7, hostname: 'h', ...o })}\n`;

describe('EventLogStream', () => {
  it('writes errors, fatal errors and warnings with their event ids; info and debug stay out', () => {
    const writer = new FakeEventLogWriter();
    const s = new EventLogStream({ writer });
    s.write(line({ level: 30, msg: 'started' }));
    s.write(line({ level: 20, msg: 'batch' }));
    s.write(line({ level: 40, msg: 'retrying', component: 'azure', attempt: 2 }));
    s.write(line({ level: 50, msg: 'batch rejected', component: 'azure', err: { type: 'TransportError', message: 'HTTP 400', code: 'OMA_ERR_HTTP' } }));
    s.write(line({ level: 60, msg: 'agent failed to start' }));
    expect(writer.events).toEqual([
      { type: 'warning', eventId: OMA_EVENT_IDS.warning, message: 'retrying\r\ncomponent: azure\r\nattempt: 2' },
      { type: 'error', eventId: OMA_EVENT_IDS.error, message: 'batch rejected\r\ncomponent: azure\r\nerr: TransportError: HTTP 400 (OMA_ERR_HTTP)' },
      { type: 'error', eventId: OMA_EVENT_IDS.fatal, message: 'agent failed to start' },
    ]);
  });

  it('leaves warnings out when asked', () => {
    const writer = new FakeEventLogWriter();
    const s = new EventLogStream({ writer, warnings: false });
    s.write(line({ level: 40, msg: 'retrying' }));
    s.write(line({ level: 50, msg: 'lost' }));
    expect(writer.events.map((e) => e.message)).toEqual(['lost']);
  });

  it('writes one event per component and message per window, then says how many it left out', () => {
    let now = 0;
    const writer = new FakeEventLogWriter();
    const s = new EventLogStream({ writer, windowMs: 10_000, now: () => now });
    for (let i = 0; i < 5; i++) s.write(line({ level: 50, msg: 'send failed', component: 'a' }));
    s.write(line({ level: 50, msg: 'send failed', component: 'b' }));
    expect(writer.events).toHaveLength(2);
    now = 10_000;
    s.write(line({ level: 50, msg: 'send failed', component: 'a' }));
    expect(writer.events).toHaveLength(3);
    expect(writer.events[2]!.message).toBe('send failed\r\ncomponent: a\r\n(4 more like this in the last 10 s were not written)');
  });

  it('never throws into the logger: a failing writer and lines that are not JSON are counted or dropped', () => {
    const writer = new FakeEventLogWriter();
    writer.failWith = 1502; // ERROR_LOG_FILE_FULL
    const errors: unknown[] = [];
    const s = new EventLogStream({
      writer,
      onError: (e) => {
        errors.push(e);
        throw new Error('callback failing too');
      },
    });
    expect(() => s.write('not json\n')).not.toThrow();
    expect(() => s.write(line({ level: 50, msg: 'x' }))).not.toThrow();
    expect(s.failures).toBe(1);
    expect(errors).toEqual([expect.objectContaining({ win32: 1502 })]);
  });

  it('works as a pino destination of the root logger, and closes its writer', () => {
    const writer = new FakeEventLogWriter();
    const stream = new EventLogStream({ writer });
    const log = createRootLogger({ level: 'info', destination: stream });
    log.child({ component: 'journal' }).error({ err: new Error('disk gone') }, 'checkpoint not saved');
    expect(writer.events).toHaveLength(1);
    expect(writer.events[0]!.message).toMatch(/^checkpoint not saved\r\ncomponent: journal\r\nerr: Error: disk gone/);
    stream.end();
    expect(writer.closed).toBe(true);
  });

  it('caps long messages', () => {
    expect(eventMessage({ msg: 'x'.repeat(20_000) })).toHaveLength(8_000);
    expect(eventMessage({})).toBe('(no message)');
  });
});
