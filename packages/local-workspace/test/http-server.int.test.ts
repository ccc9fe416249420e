import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@oma/core';
import { LocalWorkspace } from '../src/index.js';
import { ingest, startWorkspace, syslog } from './helpers.js';

let ws: LocalWorkspace;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ ws, stop } = await startWorkspace());
});
afterAll(async () => {
  await stop();
});

/** Writes `raw` on a new connection and resolves with everything the server sent until it closed or answered once. */
function exchange(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      const head = out.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(out)?.[1];
      if (head >= 0 && len !== undefined && out.length >= head + 4 + Number(len)) s.end();
    });
    s.on('error', reject);
    s.on('close', () => resolve(out));
    s.write(raw);
  });
}

describe('HTTP server', () => {
  it.each(['GET', 'DELETE', 'OPTIONS'])('answers 404 to a %s with a body to an unknown path', async (method) => {
    const port = Number(new URL(ws.url).port);
    const out = await exchange(port, `${method} /no/such/route HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`);
    expect(out).toMatch(/^HTTP\/1\.1 404 /);
    expect(out).toContain('"code":"NotFound"');
  });

  it('answers 404 to a GET with a chunked body to an unknown path', async () => {
    const port = Number(new URL(ws.url).port);
    const out = await exchange(port, `GET /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1\.1 404 /);
  });

  it('closes a connection that drips its headers past headersTimeoutMs, and one that drips its body past requestTimeoutMs', async () => {
    const quick = await startWorkspace({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const port = Number(new URL(quick.ws.url).port);
    const drip = (first: string, byte: string): { socket: Socket; got: () => string; closed: () => boolean; stop: () => void } => {
      const socket = connect(port, '127.0.0.1');
      let got = '';
      let closed = false;
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => (closed = true));
      socket.write(first);
      const timer = setInterval(() => socket.writable && socket.write(byte), 50);
      return { socket, got: () => got, closed: () => closed, stop: () => clearInterval(timer) };
    };
    const headers = drip('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'a');
    const body = drip('POST /api/logs HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n', 'b');
    try {
      await vi.waitFor(() => expect(headers.closed() && body.closed()).toBe(true), { timeout: 5000, interval: 50 });
      expect(headers.got()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      headers.stop();
      body.stop();
      headers.socket.destroy();
      body.socket.destroy();
      await quick.stop();
    }
  });

  it('keeps serving /healthz and ingestion while 300 connections drip their headers at 1 byte/s (default cap 256)', async () => {
    const port = Number(new URL(ws.url).port);
    const slow: Socket[] = [];
    for (let i = 0; i < 300; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      slow.push(s);
    }
    const timer = setInterval(() => {
      for (const s of slow) if (s.writable) s.write('a');
    }, 1000);
    try {
      await vi.waitFor(() => expect(slow.every((s) => s.readyState === 'open' || s.destroyed)).toBe(true), { timeout: 5000 });
      const health = await fetch(`${ws.url}/healthz`, { signal: AbortSignal.timeout(5000) });
      expect(health.status).toBe(200);
      expect((await ingest(ws, 'Custom-Syslog', syslog(2, { Computer: 'under-siege' }))).status).toBe(204);
      expect(ws.store.count('Syslog', { Computer: 'under-siege' })).toBe(2);
      // The stalled connections paid for it, not the new ones.
      expect(slow.filter((s) => s.destroyed).length).toBeGreaterThan(0);
    } finally {
      clearInterval(timer);
      for (const s of slow) s.destroy();
    }
  });

  it('refuses timeouts out of range, or a headers timeout longer than the request timeout', async () => {
    const dataDir = join(tmpdir(), 'never-created');
    await expect(LocalWorkspace.start({ dataDir, headersTimeoutMs: 50 })).rejects.toThrow(ConfigError);
    await expect(LocalWorkspace.start({ dataDir, headersTimeoutMs: 5000, requestTimeoutMs: 1000 })).rejects.toMatchObject({
      issues: [{ path: 'headersTimeoutMs', message: 'must not be longer than requestTimeoutMs' }],
    });
  });
});
