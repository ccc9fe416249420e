import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readEndpointFile, removeEndpointFile, writeEndpointFile, type EndpointInfo } from './endpoint-file.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'oma-endpoint-'));
  dirs.push(d);
  return d;
}

const info = (pid: number): EndpointInfo => ({
  url: 'http://127.0.0.1:1234',
  authority: 'http://127.0.0.1:1234',
  tenantId: 't',
  dcrImmutableId: 'dcr-1',
  pid,
  startedAt: '2025-01-01T00:00:00.000Z',
});

describe('endpoint file', () => {
  it('round-trips and is removed only by its writer', () => {
    const d = dir();
    expect(readEndpointFile(d)).toBeUndefined();
    writeEndpointFile(d, info(process.pid));
    expect(readEndpointFile(d)).toEqual(info(process.pid));
    removeEndpointFile(d, 'http://127.0.0.1:9999');
    expect(readEndpointFile(d)).toBeDefined();
    removeEndpointFile(d, 'http://127.0.0.1:1234');
    expect(readEndpointFile(d)).toBeUndefined();
  });

  it('treats a file of a process that is gone as absent', () => {
    const d = dir();
    // Pid numbers above the kernel's pid_max never name a live process.
    writeEndpointFile(d, info(2 ** 30));
    expect(readEndpointFile(d)).toBeUndefined();
  });

  it('throws on a file that is not an endpoint file', () => {
    const d = dir();
    writeFileSync(join(d, 'endpoint.json'), '{"url":1}');
    expect(() => readEndpointFile(d)).toThrow(/not a workspace endpoint file/);
    writeFileSync(join(d, 'endpoint.json'), 'nope');
    expect(() => readEndpointFile(d)).toThrow(/not valid JSON/);
  });
});
