import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTables, queryWorkspace, type LocalWorkspace } from '../src/index.js';
import { ingest, startWorkspace } from './helpers.js';

let ws: LocalWorkspace;
let stop: () => Promise<void>;

const T0 = Date.UTC(2025, 4, 1, 12, 0, 0);
const at = (sec: number): string => new Date(T0 + sec * 1000).toISOString();

beforeAll(async () => {
  ({ ws, stop } = await startWorkspace());
  // Two batches; rows 'tie-1' and 'tie-2' share a TimeGenerated and are told apart by insertion order.
  const first = [
    { TimeGenerated: at(0), Computer: 'a', EventID: 1, EventLevelName: 'Information', RenderedDescription: 'r0' },
    { TimeGenerated: at(10), Computer: 'b', EventID: 2, EventLevelName: 'Error', RenderedDescription: 'r10' },
    { TimeGenerated: at(20), Computer: 'a', EventID: 2, EventLevelName: 'Warning', RenderedDescription: 'tie-1' },
  ];
  const second = [
    { TimeGenerated: at(20), Computer: 'a', EventID: 3, EventLevelName: 'Error', RenderedDescription: 'tie-2' },
    { TimeGenerated: at(5), Computer: 'c', EventID: 4, EventLevelName: 'Error', RenderedDescription: 'r5' },
  ];
  expect((await ingest(ws, 'Custom-Event', first)).status).toBe(204);
  expect((await ingest(ws, 'Custom-Event', second)).status).toBe(204);
});
afterAll(async () => {
  await stop();
});

const descriptions = (rows: Record<string, unknown>[]): unknown[] => rows.map((r) => r.RenderedDescription);

describe('query API', () => {
  it('returns rows newest first by TimeGenerated, ties by insertion, with columns', async () => {
    const q = await queryWorkspace(ws.url, { table: 'Event' });
    expect(q.table).toBe('Event');
    expect(descriptions(q.rows)).toEqual(['tie-2', 'tie-1', 'r10', 'r5', 'r0']);
    expect(q.columns).toContainEqual({ name: 'EventID', type: 'int' });
    expect(q.columns).toContainEqual({ name: 'TimeGenerated', type: 'datetime' });
  });

  it('orders ascending on request', async () => {
    const q = await queryWorkspace(ws.url, { table: 'Event', order: 'asc' });
    expect(descriptions(q.rows)).toEqual(['r0', 'r5', 'r10', 'tie-1', 'tie-2']);
  });

  it('limits', async () => {
    expect(descriptions((await queryWorkspace(ws.url, { table: 'Event', limit: 2 })).rows)).toEqual(['tie-2', 'tie-1']);
  });

  it('filters by since given as ms, ISO string or Date', async () => {
    const expected = ['tie-2', 'tie-1', 'r10'];
    expect(descriptions((await queryWorkspace(ws.url, { table: 'Event', since: T0 + 10_000 })).rows)).toEqual(expected);
    expect(descriptions((await queryWorkspace(ws.url, { table: 'Event', since: at(10) })).rows)).toEqual(expected);
    expect(descriptions((await queryWorkspace(ws.url, { table: 'Event', since: new Date(T0 + 6_000) })).rows)).toEqual(expected);
  });

  it('filters by typed where clauses, ANDed', async () => {
    expect(descriptions((await queryWorkspace(ws.url, { table: 'Event', where: { Computer: 'a' } })).rows)).toEqual(['tie-2', 'tie-1', 'r0']);
    expect(descriptions((await queryWorkspace(ws.url, { table: 'Event', where: { Computer: 'a', EventID: '2' } })).rows)).toEqual(['tie-1']);
    expect(descriptions((await queryWorkspace(ws.url, { table: 'Event', where: { TimeGenerated: at(20) } })).rows)).toEqual(['tie-2', 'tie-1']);
    expect(ws.store.count('Event', { EventLevelName: 'Error' })).toBe(3);
  });

  it('rejects unknown columns, bad values and injection attempts in where without touching the data', async () => {
    await expect(queryWorkspace(ws.url, { table: 'Event', where: { Nope: 'x' } })).rejects.toMatchObject({ status: 400 });
    await expect(queryWorkspace(ws.url, { table: 'Event', where: { EventID: 'abc' } })).rejects.toMatchObject({ status: 400 });
    await expect(queryWorkspace(ws.url, { table: 'Event', where: { '1=1; DROP TABLE Event; --': 'x' } })).rejects.toMatchObject({ status: 400 });
    const q = await queryWorkspace(ws.url, { table: 'Event', where: { Computer: "a' OR '1'='1" } });
    expect(q.rows).toEqual([]);
    await expect(queryWorkspace(ws.url, { table: 'Event', limit: 0 })).rejects.toMatchObject({ status: 400 });
    const badSince = await fetch(`${ws.url}/query/Event?since=yesterday-ish`);
    expect(badSince.status).toBe(400);
    const badOrder = await fetch(`${ws.url}/query/Event?order=sideways`);
    expect(badOrder.status).toBe(400);
    expect(ws.store.count('Event')).toBe(5);
  });

  it('answers 404 for an unknown table and an empty result for a declared one without rows', async () => {
    await expect(queryWorkspace(ws.url, { table: 'NoSuchTable' })).rejects.toMatchObject({ status: 404, message: expect.stringContaining('NoSuchTable') });
    const empty = await queryWorkspace(ws.url, { table: 'W3CIISLog_CL' });
    expect(empty.rows).toEqual([]);
    expect(empty.columns).toContainEqual({ name: 'scStatus', type: 'string' });
  });

  it('lists tables with row counts', async () => {
    const tables = await listTables(ws.url);
    expect(tables).toContainEqual({ name: 'Event', rowCount: 5 });
    expect(tables).toContainEqual({ name: 'Syslog', rowCount: 0 });
    expect(tables).toContainEqual({ name: 'Heartbeat_CL', rowCount: 0 });
    expect(tables.map((t) => t.name)).not.toContain('Heartbeat');
  });
});
