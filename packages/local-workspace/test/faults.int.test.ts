import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalWorkspace } from '../src/index.js';
import { getToken, ingest, startWorkspace, syslog } from './helpers.js';

let ws: LocalWorkspace;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ ws, stop } = await startWorkspace());
});
afterEach(() => {
  ws.faults.clear();
});
afterAll(async () => {
  await stop();
});

describe('fault injection', () => {
  it('answers a status with Retry-After for `times` requests, storing nothing, then recovers', async () => {
    ws.faults.add({ match: { route: 'ingest' }, action: { status: 429, headers: { 'Retry-After': '2' } }, times: 2 });
    const records = syslog(1, { Computer: 'throttled' });
    for (let i = 0; i < 2; i++) {
      const res = await ingest(ws, 'Custom-Syslog', records);
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('2');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('InjectedFault');
    }
    expect(ws.store.count('Syslog', { Computer: 'throttled' })).toBe(0);
    expect((await ingest(ws, 'Custom-Syslog', records)).status).toBe(204);
    expect(ws.store.count('Syslog', { Computer: 'throttled' })).toBe(1);
    expect(ws.faults.list()).toEqual([]);
  });

  it('sends a given body and retry-after-ms header', async () => {
    ws.faults.failNext('ingest', 503, { headers: { 'retry-after-ms': '150' }, body: { error: { code: 'ServiceUnavailable', message: 'busy' } } });
    const res = await ingest(ws, 'Custom-Syslog', syslog(1));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after-ms')).toBe('150');
    expect(await res.json()).toEqual({ error: { code: 'ServiceUnavailable', message: 'busy' } });
  });

  it('matches only the named stream', async () => {
    ws.faults.add({ match: { route: 'ingest', stream: 'Custom-Event' }, action: { status: 500 } });
    expect((await ingest(ws, 'Custom-Syslog', syslog(1))).status).toBe(204);
    expect((await ingest(ws, 'Custom-Event', [{ Computer: 'e' }])).status).toBe(500);
  });

  it('applies to the token route', async () => {
    ws.faults.add({ match: { route: 'token' }, action: { status: 503 }, times: 1 });
    expect((await getToken(ws)).status).toBe(503);
    expect((await getToken(ws)).status).toBe(200);
  });

  it('adds latency and then processes the request', async () => {
    const id = ws.faults.add({ match: { route: 'ingest' }, action: { latencyMs: 50 }, times: 1 });
    const res = await ingest(ws, 'Custom-Syslog', syslog(1, { Computer: 'slow' }), { requestId: 'slow-1' });
    expect(res.status).toBe(204);
    expect(ws.store.count('Syslog', { Computer: 'slow' })).toBe(1);
    expect(ws.requests.entries().find((e) => e.requestId === 'slow-1')?.faults).toEqual([id]);
  });

  it('holds a request for the latency (a client timeout fires first)', async () => {
    ws.faults.add({ match: { route: 'token' }, action: { latencyMs: 60_000 } });
    const res = fetch(ws.tokenUrl(), { method: 'POST', signal: AbortSignal.timeout(200) });
    await expect(res).rejects.toMatchObject({ name: 'TimeoutError' });
    await vi.waitFor(() => expect(ws.requests.entries({ route: 'token' }).at(-1)?.status).toBe(0));
  });

  it('resets the connection without storing, for `times` requests', async () => {
    ws.faults.add({ match: { route: 'any' }, action: { reset: true }, times: 1 });
    await expect(ingest(ws, 'Custom-Syslog', syslog(1, { Computer: 'reset' }))).rejects.toThrow();
    expect(ws.store.count('Syslog', { Computer: 'reset' })).toBe(0);
    expect((await ingest(ws, 'Custom-Syslog', syslog(1, { Computer: 'reset' }))).status).toBe(204);
  });

  it('ignores a rule whose deadline has passed', async () => {
    ws.faults.add({ match: { route: 'ingest' }, action: { status: 500 }, untilMs: Date.now() - 1 });
    expect((await ingest(ws, 'Custom-Syslog', syslog(1))).status).toBe(204);
  });

  it('is driven over HTTP through /_admin/faults', async () => {
    const bad = await fetch(`${ws.url}/_admin/faults`, { method: 'POST', body: JSON.stringify({ match: { route: 'x' }, action: {} }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { details: string[] } }).error.details.length).toBeGreaterThanOrEqual(2);

    const add = await fetch(`${ws.url}/_admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ match: { route: 'ingest' }, action: { status: 500 }, times: 3 }),
    });
    expect(add.status).toBe(201);
    const { id } = (await add.json()) as { id: string };
    const list = (await (await fetch(`${ws.url}/_admin/faults`)).json()) as { faults: { id: string; times: number }[] };
    expect(list.faults).toEqual([expect.objectContaining({ id, times: 3, applied: 0 })]);
    expect((await ingest(ws, 'Custom-Syslog', syslog(1))).status).toBe(500);
    expect((await fetch(`${ws.url}/_admin/faults/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await ingest(ws, 'Custom-Syslog', syslog(1))).status).toBe(204);

    await fetch(`${ws.url}/_admin/faults`, { method: 'POST', body: JSON.stringify({ match: { route: 'any' }, action: { status: 502 } }) });
    expect((await fetch(`${ws.url}/_admin/faults`, { method: 'DELETE' })).status).toBe(204);
    expect(ws.faults.list()).toEqual([]);
  });

  it('exposes the request log over HTTP', async () => {
    await ingest(ws, 'Custom-Syslog', syslog(1), { requestId: 'logged-req' });
    const body = (await (await fetch(`${ws.url}/_admin/requests?route=ingest`)).json()) as { requests: { requestId?: string }[] };
    expect(body.requests.some((r) => r.requestId === 'logged-req')).toBe(true);
    expect((await fetch(`${ws.url}/_admin/requests`, { method: 'DELETE' })).status).toBe(204);
    expect(ws.requests.entries()).toEqual([]);
  });
});
