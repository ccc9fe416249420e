import { describe, expect, it } from 'vitest';
import { FaultInjector, FaultRuleError, parseFaultRule } from './faults.js';

describe('parseFaultRule', () => {
  it('accepts the three action kinds', () => {
    expect(parseFaultRule({ match: { route: 'ingest', stream: 'Custom-Syslog' }, action: { status: 429, headers: { 'Retry-After': 3 } }, times: 2 })).toEqual({
      match: { route: 'ingest', stream: 'Custom-Syslog' },
      action: { status: 429, headers: { 'Retry-After': '3' } },
      times: 2,
    });
    expect(parseFaultRule({ match: { route: 'any' }, action: { latencyMs: 10 }, untilMs: 5 }).action).toEqual({ latencyMs: 10 });
    expect(parseFaultRule({ match: { route: 'token' }, action: { reset: true } }).action).toEqual({ reset: true });
  });

  it('reports every problem', () => {
    try {
      parseFaultRule({ match: { route: 'nope', extra: 1 }, action: { status: 99, headers: { 'bad header': 'x', ok: 'a\r\nb' } }, times: 0 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(FaultRuleError);
      expect((err as FaultRuleError).issues).toHaveLength(6);
    }
    expect(() => parseFaultRule({ match: { route: 'any' }, action: { latencyMs: -1 } })).toThrow(FaultRuleError);
    expect(() => parseFaultRule({ match: { route: 'any' }, action: {} })).toThrow(/status, latencyMs or reset/);
    expect(() => parseFaultRule('x')).toThrow(FaultRuleError);
  });
});

describe('FaultInjector', () => {
  it('applies a rule `times` times, then drops it', () => {
    const f = new FaultInjector(() => 0);
    const id = f.add({ match: { route: 'ingest' }, action: { status: 500 }, times: 2 });
    expect(f.take('ingest').terminal).toEqual({ status: 500, headers: {} });
    expect(f.list()).toEqual([expect.objectContaining({ id, applied: 1 })]);
    expect(f.take('ingest').ruleIds).toEqual([id]);
    expect(f.take('ingest')).toEqual({ latencyMs: 0, ruleIds: [] });
    expect(f.list()).toEqual([]);
  });

  it('expires rules at their deadline', () => {
    let now = 100;
    const f = new FaultInjector(() => now);
    f.add({ match: { route: 'any' }, action: { status: 503 }, untilMs: 200 });
    expect(f.take('token').terminal).toBeDefined();
    now = 200;
    expect(f.take('token').terminal).toBeUndefined();
  });

  it('sums latency rules and lets the first answer rule decide', () => {
    const f = new FaultInjector();
    const l1 = f.add({ match: { route: 'any' }, action: { latencyMs: 10 } });
    const s1 = f.add({ match: { route: 'ingest', stream: 'Custom-A' }, action: { status: 500 } });
    f.add({ match: { route: 'ingest' }, action: { reset: true } });
    const l2 = f.add({ match: { route: 'ingest' }, action: { latencyMs: 5 } });
    const d = f.take('ingest', 'Custom-A');
    expect(d.latencyMs).toBe(15);
    expect(d.terminal).toEqual({ status: 500, headers: {} });
    expect(d.ruleIds).toEqual([l1, s1, l2]);
    expect(f.take('ingest', 'Custom-B').terminal).toEqual({ reset: true });
    expect(f.take('token')).toEqual({ latencyMs: 10, ruleIds: [l1] });
  });

  it('removes and clears rules', () => {
    const f = new FaultInjector();
    const id = f.failNext('token', 401);
    expect(f.remove(id)).toBe(true);
    expect(f.remove(id)).toBe(false);
    f.failNext('ingest', 500, { times: 5 });
    f.clear();
    expect(f.list()).toEqual([]);
  });
});
