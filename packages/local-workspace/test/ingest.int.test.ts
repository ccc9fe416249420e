import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signRs256 } from '../src/auth/jwt.js';
import { DEFAULT_MAX_INFLATED_BODY_BYTES, MAX_INGEST_BODY_BYTES, queryWorkspace, type LocalWorkspace } from '../src/index.js';
import { ingest, rawRequest, startWorkspace, syslog } from './helpers.js';

let ws: LocalWorkspace;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ ws, stop } = await startWorkspace());
});
afterAll(async () => {
  await stop();
});

async function authHeaders(extra: Record<string, string | number> = {}): Promise<Record<string, string | number>> {
  return { authorization: `Bearer ${await ws.issueToken()}`, 'content-type': 'application/json', ...extra };
}

/** A JSON array of Syslog records at least `bytes` long. */
function bigBody(bytes: number): Buffer {
  const per = 'x'.repeat(1000);
  const n = Math.ceil(bytes / 1000) + 1;
  return Buffer.from(JSON.stringify(Array.from({ length: n }, (_, i) => ({ Computer: `c${i}`, SyslogMessage: per }))));
}

describe('ingestion', () => {
  it('stores a plain JSON batch and answers 204; rows are queryable', async () => {
    const requestId = randomUUID();
    const res = await ingest(ws, 'Custom-Syslog', syslog(3, { Computer: 'plain-host', Extra: 'dropped' }), { requestId });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    const q = await queryWorkspace(ws, { table: 'Syslog', where: { Computer: 'plain-host' } });
    expect(q.rows).toHaveLength(3);
    expect(q.rows[0]).toMatchObject({ SyslogMessage: 'message 2', ProcessID: 102, HostIP: null, EventTime: null });
    expect(q.rows[0]).not.toHaveProperty('Extra');
    expect(q.columns.map((c) => c.name)).toContain('SyslogMessage');
    const logged = ws.requests.entries({ route: 'ingest' }).find((e) => e.requestId === requestId);
    expect(logged).toMatchObject({ status: 204, stream: 'Custom-Syslog', records: 3, method: 'POST' });
    expect(logged?.headers['x-ms-client-request-id']).toBe(requestId);
    expect(logged?.bytes).toBeGreaterThan(0);
  });

  it('accepts gzip bodies', async () => {
    const res = await ingest(ws, 'Custom-Syslog', syslog(2, { Computer: 'gzip-host' }), { gzip: true });
    expect(res.status).toBe(204);
    expect(ws.store.count('Syslog', { Computer: 'gzip-host' })).toBe(2);
  });

  it('round-trips dynamic values and accepts the preview api-version', async () => {
    const res = await ingest(
      ws,
      'Custom-Heartbeat',
      [{ TimeGenerated: '2025-02-01T00:00:00Z', Computer: 'hb', ComputerPrivateIPs: ['10.0.0.1', { nested: true }] }],
      { apiVersion: '2021-11-01-preview' },
    );
    expect(res.status).toBe(204);
    // Like Azure's DCR, the default DCR sends Custom-Heartbeat to the mirror table Heartbeat_CL.
    await expect(queryWorkspace(ws, { table: 'Heartbeat' })).rejects.toMatchObject({ status: 404 });
    const q = await queryWorkspace(ws, { table: 'Heartbeat_CL' });
    expect(q.rows[0]?.ComputerPrivateIPs).toEqual(['10.0.0.1', { nested: true }]);
    expect(q.rows[0]?.TimeGenerated).toBe('2025-02-01T00:00:00.000Z');
  });

  it('fills a missing TimeGenerated with the receive time', async () => {
    const before = Date.now();
    expect((await ingest(ws, 'Custom-Perf', [{ Computer: 'perf', CounterValue: 1.5 }])).status).toBe(204);
    const row = (await queryWorkspace(ws, { table: 'Perf_CL', where: { Computer: 'perf' } })).rows[0]!;
    expect(Date.parse(row.TimeGenerated as string)).toBeGreaterThanOrEqual(before - 1000);
    expect(row.TimeGenerated).toBe(row._TimeReceived);
    expect(row.CounterValue).toBe(1.5);
  });

  it('accepts an undeclared Custom-<Name>_CL stream on the default DCR with the text-log schema', async () => {
    const res = await ingest(ws, 'Custom-MyApp_CL', [{ TimeGenerated: '2025-03-01T00:00:00Z', RawData: 'line', FilePath: '/var/log/a' }]);
    expect(res.status).toBe(204);
    expect((await queryWorkspace(ws, { table: 'MyApp_CL' })).rows[0]).toMatchObject({ RawData: 'line', FilePath: '/var/log/a', Computer: null });
  });

  it('answers 404 for an undeclared stream into a mirror table, as Azure would', async () => {
    const res = await ingest(ws, 'Custom-Heartbeat_CL', [{ TimeGenerated: '2025-03-01T00:00:00Z', RawData: 'line' }]);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'InvalidStream' } });
  });

  it('answers 413 from the declared Content-Length without reading the body', async () => {
    const body = bigBody(MAX_INGEST_BODY_BYTES + 10);
    const res = await rawRequest(ws.ingestionUrl('Custom-Syslog'), { headers: await authHeaders({ 'content-length': body.length }), body });
    expect(res.status).toBe(413);
    expect(res.json()).toEqual({
      error: {
        code: 'ContentLengthLimitExceeded',
        message: `Maximum allowed content length: 1048576 bytes (1 MB). Provided content length: ${body.length} bytes.`,
      },
    });
  });

  it('answers 413 when a chunked body grows past the limit', async () => {
    const body = bigBody(MAX_INGEST_BODY_BYTES + 5000);
    const chunks = [body.subarray(0, 500_000), body.subarray(500_000, 1_000_000), body.subarray(1_000_000)];
    const res = await rawRequest(ws.ingestionUrl('Custom-Syslog'), { headers: await authHeaders({ 'transfer-encoding': 'chunked' }), body: chunks });
    expect(res.status).toBe(413);
    expect(res.json().error.message).toBe(
      `Maximum allowed content length: 1048576 bytes (1 MB). Provided content length: ${body.length} bytes.`,
    );
  });

  it('accepts a gzip body whose inflated size is well over 1 MiB while its wire size is under it (as the service does)', async () => {
    const body = bigBody(3_000_000);
    const wire = gzipSync(body);
    expect(wire.length).toBeLessThan(MAX_INGEST_BODY_BYTES);
    const res = await ingest(ws, 'Custom-Syslog', body, { gzip: true });
    expect(res.status).toBe(204);
    expect(ws.store.count('Syslog', { Computer: 'c2999' })).toBe(1);
  });

  it('answers 413 when the gzip body itself is over 1 MiB on the wire', async () => {
    const body = randomBytes(MAX_INGEST_BODY_BYTES + 10_000);
    const res = await rawRequest(ws.ingestionUrl('Custom-Syslog'), {
      headers: await authHeaders({ 'content-encoding': 'gzip', 'transfer-encoding': 'chunked' }),
      body: [body.subarray(0, 600_000), body.subarray(600_000)],
    });
    expect(res.status).toBe(413);
    expect(res.json().error.message).toBe(`Maximum allowed content length: 1048576 bytes (1 MB). Provided content length: ${body.length} bytes.`);
  });

  it('answers 413 when the gzip body inflates past the default 50 MiB cap', async () => {
    expect(DEFAULT_MAX_INFLATED_BODY_BYTES).toBe(50 * 1024 * 1024);
    const body = bigBody(DEFAULT_MAX_INFLATED_BODY_BYTES + 100_000);
    const res = await ingest(ws, 'Custom-Syslog', body, { gzip: true, requestId: 'bomb' });
    expect(gzipSync(body).length).toBeLessThan(MAX_INGEST_BODY_BYTES);
    expect(res.status).toBe(413);
    const err = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('ContentLengthLimitExceeded');
    expect(err.message).toBe(
      `Maximum allowed content length: 52428800 bytes (50 MiB after decompression). Provided content length: more than 52428800 bytes after decompression.`,
    );
    expect(ws.requests.entries().find((e) => e.requestId === 'bomb')?.status).toBe(413);
  });

  it('answers 413 when the gzip body inflates past a configured maxInflatedBodyBytes', async () => {
    const small = await startWorkspace({ maxInflatedBodyBytes: 2 * 1024 * 1024 });
    try {
      expect((await ingest(small.ws, 'Custom-Syslog', bigBody(1_900_000), { gzip: true })).status).toBe(204);
      const res = await ingest(small.ws, 'Custom-Syslog', bigBody(2_200_000), { gzip: true });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain('more than 2097152 bytes after decompression');
    } finally {
      await small.stop();
    }
  });

  it('accepts a body of exactly the limit', async () => {
    const prefix = '[{"Computer":"exact","SyslogMessage":"';
    const suffix = '"}]';
    const body = Buffer.from(prefix + 'y'.repeat(MAX_INGEST_BODY_BYTES - prefix.length - suffix.length) + suffix);
    expect(body.length).toBe(MAX_INGEST_BODY_BYTES);
    expect((await ingest(ws, 'Custom-Syslog', body)).status).toBe(204);
  });

  it('rejects malformed gzip, invalid JSON and non-array bodies with 400', async () => {
    const notGzip = await rawRequest(ws.ingestionUrl('Custom-Syslog'), {
      headers: await authHeaders({ 'content-encoding': 'gzip' }),
      body: Buffer.from('definitely not gzip'),
    });
    expect(notGzip.status).toBe(400);
    expect(notGzip.json().error.code).toBe('InvalidContentEncoding');

    const truncated = gzipSync(Buffer.from(JSON.stringify(syslog(50))));
    const cut = await rawRequest(ws.ingestionUrl('Custom-Syslog'), {
      headers: await authHeaders({ 'content-encoding': 'gzip' }),
      body: truncated.subarray(0, truncated.length - 20),
    });
    expect(cut.status).toBe(400);

    const badJson = await ingest(ws, 'Custom-Syslog', Buffer.from('[{"a":'));
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: { code: string } }).error.code).toBe('InvalidJson');

    const object = await ingest(ws, 'Custom-Syslog', { Computer: 'x' });
    expect(object.status).toBe(400);
    expect(((await object.json()) as { error: { message: string } }).error.message).toContain('not object');

    const element = await ingest(ws, 'Custom-Syslog', [{ Computer: 'x' }, 42]);
    expect(element.status).toBe(400);
    expect(((await element.json()) as { error: { message: string } }).error.message).toContain('element 1 is number');

    const badUtf8 = await ingest(ws, 'Custom-Syslog', Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]));
    expect(badUtf8.status).toBe(400);
  });

  it('rejects a value that does not fit its column, naming record index and column, and stores nothing', async () => {
    const records = syslog(3, { Computer: 'mismatch' });
    records[2]!.ProcessID = 'not-a-number';
    const res = await ingest(ws, 'Custom-Syslog', records);
    expect(res.status).toBe(400);
    const err = ((await res.json()) as { error: { code: string; message: string; details: { target: string }[] } }).error;
    expect(err.code).toBe('SchemaMismatch');
    expect(err.message).toContain('Record 2');
    expect(err.message).toContain("'ProcessID'");
    expect(err.details[0]?.target).toBe('[2].ProcessID');
    expect(ws.store.count('Syslog', { Computer: 'mismatch' })).toBe(0);
  });

  it('rejects values the store cannot hold (a long past 64 bits, nesting too deep) with 400', async () => {
    const res = await ingest(ws, 'Custom-W3CIISLog', [{ Computer: 'iis', csBytes: '99999999999999999999999' }]);
    expect(res.status).toBe(400);
    const depth = 400_000;
    const deep = Buffer.from(`[{"Computer":"deep","ComputerPrivateIPs":${'['.repeat(depth)}${']'.repeat(depth)}}]`);
    const nested = await ingest(ws, 'Custom-Heartbeat', deep);
    expect(nested.status).toBe(400);
    expect(((await nested.json()) as { error: { message: string } }).error.message).toContain('ComputerPrivateIPs');
  });

  it('answers 401 without a token, with an expired one, with a forged one and with a wrong audience', async () => {
    const none = await ingest(ws, 'Custom-Syslog', syslog(1), { token: null });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('MissingToken');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);

    const expired = await ws.issueToken({ nowMs: Date.now() - 2 * 3600_000, lifetimeSec: 3600 });
    const exp = await ingest(ws, 'Custom-Syslog', syslog(1), { token: expired });
    expect(exp.status).toBe(401);
    expect(((await exp.json()) as { error: { code: string } }).error.code).toBe('ExpiredToken');

    const real = await ws.issueToken();
    const payload = JSON.parse(Buffer.from(real.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = await signRs256({ typ: 'JWT' }, payload, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    const forgedRes = await ingest(ws, 'Custom-Syslog', syslog(1), { token: forged });
    expect(forgedRes.status).toBe(401);
    expect(((await forgedRes.json()) as { error: { message: string } }).error.message).toContain('signature');

    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${real.split('.')[1]}.`;
    expect((await ingest(ws, 'Custom-Syslog', syslog(1), { token: unsigned })).status).toBe(401);

    const wrongAud = await ws.issueToken({ audience: 'https://management.azure.com' });
    const aud = await ingest(ws, 'Custom-Syslog', syslog(1), { token: wrongAud });
    expect(aud.status).toBe(401);
    expect(((await aud.json()) as { error: { code: string } }).error.code).toBe('InvalidAudience');
  });

  it('answers 404 for an unknown DCR and an unknown stream, naming them', async () => {
    const dcr = await ingest(ws, 'Custom-Syslog', syslog(1), { dcr: 'dcr-ffffffffffffffffffffffffffffffff' });
    expect(dcr.status).toBe(404);
    expect(((await dcr.json()) as { error: { message: string } }).error.message).toContain('dcr-ffffffffffffffffffffffffffffffff');
    const stream = await ingest(ws, 'Custom-NoSuchStream', syslog(1));
    expect(stream.status).toBe(404);
    expect(((await stream.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'InvalidStream',
      message: expect.stringContaining('Custom-NoSuchStream'),
    });
  });

  it('checks api-version and content type', async () => {
    const missing = await ingest(ws, 'Custom-Syslog', syslog(1), { apiVersion: null });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('MissingApiVersionParameter');
    const wrong = await ingest(ws, 'Custom-Syslog', syslog(1), { apiVersion: '2020-01-01' });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('UnsupportedApiVersion');
    const type = await ingest(ws, 'Custom-Syslog', syslog(1), { contentType: 'text/plain' });
    expect(type.status).toBe(415);
    const charset = await ingest(ws, 'Custom-Syslog', syslog(1), { contentType: 'application/json; charset=utf-8' });
    expect(charset.status).toBe(204);
  });

  it('survives an upload aborted half way and keeps serving', async () => {
    const body = Buffer.from(JSON.stringify(syslog(200, { Computer: 'aborted' })));
    await expect(
      rawRequest(ws.ingestionUrl('Custom-Syslog'), {
        headers: await authHeaders({ 'content-length': body.length, 'x-ms-client-request-id': 'aborted-upload' }),
        body,
        abortAfterBytes: 100,
      }),
    ).rejects.toThrow();
    await vi.waitFor(() => expect(ws.requests.entries().find((e) => e.requestId === 'aborted-upload')?.status).toBe(0));
    expect(ws.store.count('Syslog', { Computer: 'aborted' })).toBe(0);
    expect((await fetch(`${ws.url}/healthz`)).status).toBe(200);
  });

  it('answers 404 for unknown routes and a JSON health check', async () => {
    expect((await fetch(`${ws.url}/nope`)).status).toBe(404);
    expect(await (await fetch(`${ws.url}/healthz`)).json()).toEqual({ status: 'ok' });
  });
});
