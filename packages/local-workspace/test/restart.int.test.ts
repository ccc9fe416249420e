import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalWorkspace, queryWorkspace, readEndpointFile } from '../src/index.js';
import { accessToken, ingest, removeDir, syslog, tempDir } from './helpers.js';

const dirs: string[] = [];
const open: LocalWorkspace[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
  dirs.splice(0).forEach(removeDir);
});

async function start(dataDir: string, extra: Partial<Parameters<typeof LocalWorkspace.start>[0]> = {}): Promise<LocalWorkspace> {
  const ws = await LocalWorkspace.start({ dataDir, ...extra });
  open.push(ws);
  return ws;
}

describe('lifecycle', () => {
  it('keeps data across a restart on the same data dir; old tokens stop working', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const first = await start(dir);
    const token = await accessToken(first);
    expect((await ingest(first, 'Custom-Syslog', syslog(4, { Computer: 'persist' }), { token })).status).toBe(204);
    expect((await ingest(first, 'Custom-Kept_CL', [{ RawData: 'x' }], { token })).status).toBe(204);
    await first.close();
    await first.close();
    expect(existsSync(join(dir, 'endpoint.json'))).toBe(false);

    const second = await start(dir);
    const q = await queryWorkspace(second, { table: 'Syslog', where: { Computer: 'persist' } });
    expect(q.rows.map((r) => r.ProcessID)).toEqual([103, 102, 101, 100]);
    expect(second.store.count('Kept_CL')).toBe(1);
    expect((await ingest(second, 'Custom-Syslog', syslog(1), { token })).status).toBe(401);
    expect((await ingest(second, 'Custom-Syslog', syslog(1, { Computer: 'persist' }))).status).toBe(204);
    expect(second.store.count('Syslog', { Computer: 'persist' })).toBe(5);
  });

  it('writes endpoint.json while running and refuses a second workspace on the same dir', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const ws = await start(dir);
    expect(readEndpointFile(dir)).toMatchObject({ url: ws.url, tenantId: ws.tenantId, dcrImmutableId: ws.dcrImmutableId, pid: process.pid });
    await expect(LocalWorkspace.start({ dataDir: dir })).rejects.toMatchObject({ code: 'OMA_ERR_CONFIG_INVALID' });
    await ws.close();
    expect(readEndpointFile(dir)).toBeUndefined();
  });

  it('refuses bad options and non-loopback hosts, reporting every issue', async () => {
    const dir = tempDir();
    dirs.push(dir);
    await expect(
      LocalWorkspace.start({ dataDir: dir, host: '0.0.0.0', port: 70000, dcrs: [{ immutableId: 'nope', streams: {} }] }),
    ).rejects.toMatchObject({
      code: 'OMA_ERR_CONFIG_INVALID',
      issues: expect.arrayContaining([
        expect.objectContaining({ path: 'host' }),
        expect.objectContaining({ path: 'port' }),
        expect.objectContaining({ path: 'dcrs[0].immutableId' }),
      ]),
    });
  });

  it('refuses DCR columns that conflict with stored tables', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const ws = await start(dir);
    expect((await ingest(ws, 'Custom-Syslog', syslog(1))).status).toBe(204);
    await ws.close();
    const conflicting = {
      immutableId: 'dcr-00000000000000000000000000000002',
      streams: { 'Custom-Sys': { table: 'Syslog', columns: [{ name: 'ProcessID', type: 'string' as const }] } },
    };
    await expect(LocalWorkspace.start({ dataDir: dir, dcrs: [conflicting] })).rejects.toMatchObject({ code: 'OMA_ERR_CONFIG_INVALID' });
  });

  it('prunes the oldest rows beyond retentionRows', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const ws = await start(dir, { retentionRows: 5 });
    expect((await ingest(ws, 'Custom-Syslog', syslog(3))).status).toBe(204);
    expect((await ingest(ws, 'Custom-Syslog', syslog(5, { Computer: 'newer' }))).status).toBe(204);
    expect(ws.store.count('Syslog')).toBe(5);
    expect(ws.store.count('Syslog', { Computer: 'newer' })).toBe(5);
  });

  it('closes promptly while a request waits on injected latency', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const ws = await start(dir);
    ws.faults.add({ match: { route: 'ingest' }, action: { latencyMs: 600_000 } });
    const pending = ingest(ws, 'Custom-Syslog', syslog(1, { Computer: 'never' }));
    const settled = pending.then(
      () => 'answered',
      () => 'failed',
    );
    await vi.waitFor(() => expect(ws.faults.list()[0]?.applied).toBe(1));
    await ws.close();
    expect(await settled).toBe('failed');
  });

  it('serves custom DCRs', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const dcr = {
      immutableId: 'dcr-0123456789abcdef0123456789abcdef',
      streams: {
        'Custom-LaAgentHeartbeat': {
          table: 'LaAgentHeartbeat_CL',
          columns: [
            { name: 'TimeGenerated', type: 'datetime' as const },
            { name: 'Computer', type: 'string' as const },
            { name: 'Healthy', type: 'boolean' as const },
          ],
        },
      },
    };
    const ws = await start(dir, { dcrs: [dcr] });
    expect(ws.dcrImmutableId).toBe(dcr.immutableId);
    expect((await ingest(ws, 'Custom-LaAgentHeartbeat', [{ Computer: 'h', Healthy: true }])).status).toBe(204);
    expect((await queryWorkspace(ws, { table: 'LaAgentHeartbeat_CL', where: { Healthy: 'true' } })).rows[0]).toMatchObject({ Healthy: true });
    // No leniency outside the default DCR.
    expect((await ingest(ws, 'Custom-Other_CL', [{ RawData: 'x' }])).status).toBe(404);
  });
});
