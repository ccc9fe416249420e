import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listTables, queryWorkspace, readQueryToken, type LocalWorkspace } from '../src/index.js';
import { ingest, startWorkspace } from './helpers.js';

let ws: LocalWorkspace;
let stop: () => Promise<void>;
let dir: string;

const T0 = Date.UTC(2025, 4, 1, 12, 0, 0);
const at = (sec: number): string => new Date(T0 + sec * 1000).toISOString();

beforeAll(async () => {
  ({ ws, stop, dir } = await startWorkspace());
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

const auth = (): Record<string, string> => ({ authorization: `Bearer ${ws.queryToken}` });

const descriptions = (rows: Record<string, unknown>[]): unknown[] => rows.map((r) => r.RenderedDescription);

describe('query API', () => {
  it('returns rows newest first by TimeGenerated, ties by insertion, with columns', async () => {
    const q = await queryWorkspace(ws, { table: 'Event' });
    expect(q.table).toBe('Event');
    expect(descriptions(q.rows)).toEqual(['tie-2', 'tie-1', 'r10', 'r5', 'r0']);
    expect(q.columns).toContainEqual({ name: 'EventID', type: 'int' });
    expect(q.columns).toContainEqual({ name: 'TimeGenerated', type: 'datetime' });
  });

  it('orders ascending on request', async () => {
    const q = await queryWorkspace(ws, { table: 'Event', order: 'asc' });
    expect(descriptions(q.rows)).toEqual(['r0', 'r5', 'r10', 'tie-1', 'tie-2']);
  });

  it('limits', async () => {
    expect(descriptions((await queryWorkspace(ws, { table: 'Event', limit: 2 })).rows)).toEqual(['tie-2', 'tie-1']);
  });

  it('filters by since given as ms, ISO string or Date', async () => {
    const expected = ['tie-2', 'tie-1', 'r10'];
    expect(descriptions((await queryWorkspace(ws, { table: 'Event', since: T0 + 10_000 })).rows)).toEqual(expected);
    expect(descriptions((await queryWorkspace(ws, { table: 'Event', since: at(10) })).rows)).toEqual(expected);
    expect(descriptions((await queryWorkspace(ws, { table: 'Event', since: new Date(T0 + 6_000) })).rows)).toEqual(expected);
  });

  it('filters by typed where clauses, ANDed', async () => {
    expect(descriptions((await queryWorkspace(ws, { table: 'Event', where: { Computer: 'a' } })).rows)).toEqual(['tie-2', 'tie-1', 'r0']);
    expect(descriptions((await queryWorkspace(ws, { table: 'Event', where: { Computer: 'a', EventID: '2' } })).rows)).toEqual(['tie-1']);
    expect(descriptions((await queryWorkspace(ws, { table: 'Event', where: { TimeGenerated: at(20) } })).rows)).toEqual(['tie-2', 'tie-1']);
    expect(ws.store.count('Event', { EventLevelName: 'Error' })).toBe(3);
  });

  it('rejects unknown columns, bad values and injection attempts in where without touching the data', async () => {
    await expect(queryWorkspace(ws, { table: 'Event', where: { Nope: 'x' } })).rejects.toMatchObject({ status: 400 });
    await expect(queryWorkspace(ws, { table: 'Event', where: { EventID: 'abc' } })).rejects.toMatchObject({ status: 400 });
    await expect(queryWorkspace(ws, { table: 'Event', where: { '1=1; DROP TABLE Event; --': 'x' } })).rejects.toMatchObject({ status: 400 });
    const q = await queryWorkspace(ws, { table: 'Event', where: { Computer: "a' OR '1'='1" } });
    expect(q.rows).toEqual([]);
    await expect(queryWorkspace(ws, { table: 'Event', limit: 0 })).rejects.toMatchObject({ status: 400 });
    const badSince = await fetch(`${ws.url}/query/Event?since=yesterday-ish`, { headers: auth() });
    expect(badSince.status).toBe(400);
    const badOrder = await fetch(`${ws.url}/query/Event?order=sideways`, { headers: auth() });
    expect(badOrder.status).toBe(400);
    expect(ws.store.count('Event')).toBe(5);
  });

  it('answers 404 for an unknown table and an empty result for a declared one without rows', async () => {
    await expect(queryWorkspace(ws, { table: 'NoSuchTable' })).rejects.toMatchObject({ status: 404, message: expect.stringContaining('NoSuchTable') });
    const empty = await queryWorkspace(ws, { table: 'W3CIISLog_CL' });
    expect(empty.rows).toEqual([]);
    expect(empty.columns).toContainEqual({ name: 'scStatus', type: 'string' });
  });

  it('lists tables with row counts', async () => {
    const tables = await listTables(ws);
    expect(tables).toContainEqual({ name: 'Event', rowCount: 5 });
    expect(tables).toContainEqual({ name: 'Syslog', rowCount: 0 });
    expect(tables).toContainEqual({ name: 'Heartbeat_CL', rowCount: 0 });
    expect(tables.map((t) => t.name)).not.toContain('Heartbeat');
  });

  it('pages past 10,000 rows with offset, and says so when the limit is too high', async () => {
    const all = descriptions((await queryWorkspace(ws, { table: 'Event' })).rows);
    const pages = [0, 2, 4].map(async (offset) => descriptions((await queryWorkspace(ws, { table: 'Event', limit: 2, offset })).rows));
    expect((await Promise.all(pages)).flat()).toEqual(all);
    const tooMany = await fetch(`${ws.url}/query/Event?limit=10001`, { headers: auth() });
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { error: { message: string } }).error.message).toBe('limit must be an integer in 1..10000; page through more rows with offset');
    expect((await fetch(`${ws.url}/query/Event?offset=-1`, { headers: auth() })).status).toBe(400);
  });

  it('answers 401 without a credential; accepts the query token file or an access token of the workspace', async () => {
    for (const path of ['query/Event', 'query/tables']) {
      const none = await fetch(`${ws.url}/${path}`);
      expect(none.status).toBe(401);
      expect(((await none.json()) as { error: { code: string; message: string } }).error).toMatchObject({
        code: 'MissingToken',
        message: expect.stringContaining('query-token'),
      });
      expect((await fetch(`${ws.url}/${path}`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(`${ws.url}/${path}`, { headers: auth() })).status).toBe(200);
      expect((await fetch(`${ws.url}/${path}`, { headers: { authorization: `Bearer ${await ws.issueToken()}` } })).status).toBe(200);
    }
    expect(readFileSync(join(dir, 'query-token'), 'utf8').trim()).toBe(ws.queryToken);
    expect(readQueryToken(dir)).toBe(ws.queryToken);
    await expect(queryWorkspace(ws.url, { table: 'Event' })).rejects.toThrow(/query-token/);
  });
});
