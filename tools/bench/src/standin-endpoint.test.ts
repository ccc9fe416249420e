import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { startStandin, type Standin } from './standin-endpoint.js';

let standin: Standin | undefined;
afterEach(async () => {
  await standin?.close();
  standin = undefined;
});

/** POSTs `body` with the request target written as given (origin form `/path` or absolute form `http://host/path`). */
function post(url: string, target: string, body: Buffer, headers: Record<string, string> = {}): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method: 'POST', path: target, headers: { 'content-length': String(body.length), ...headers } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(body);
  });
}

const STREAM = '/dataCollectionRules/dcr-0/streams/Custom-Syslog_CL?api-version=2023-01-01';

describe('stand-in Logs Ingestion endpoint', () => {
  it('counts the records of a gzip call whose request target is in origin form', async () => {
    standin = await startStandin();
    const status = await post(standin.url, STREAM, gzipSync(JSON.stringify([{ a: 1 }, { a: 2 }])), { 'content-encoding': 'gzip' });
    expect(status).toBe(204);
    expect(standin.stats()).toMatchObject({ calls: 1, records: 2, recordsByStream: { 'Custom-Syslog_CL': 2 }, bad: 0 });
  });

  it('reads a request target in absolute form as its path (Fluent Bit sends token and stream requests so)', async () => {
    standin = await startStandin();
    expect(await post(standin.url, `${standin.url}/tenant-1/oauth2/v2.0/token`, Buffer.from('grant_type=client_credentials'))).toBe(200);
    const status = await post(standin.url, `${standin.url}${STREAM}`, gzipSync(JSON.stringify([{ a: 1 }, { a: 2 }, { a: 3 }])), { 'content-encoding': 'gzip' });
    expect(status).toBe(204);
    expect(standin.stats()).toMatchObject({ tokens: 1, calls: 1, records: 3, bad: 0 });
  });

  it('still answers 404 to a path that is no stream, in either form', async () => {
    standin = await startStandin();
    expect(await post(standin.url, `${standin.url}/other`, Buffer.from('[]'))).toBe(404);
    expect(await post(standin.url, '/other', Buffer.from('[]'))).toBe(404);
    expect(standin.stats()).toMatchObject({ calls: 0, bad: 2 });
  });
});
