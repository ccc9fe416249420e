import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createTestCa } from '@oma/core/testing';

/** Directory, under the workspace's data directory, of its generated CA and server certificate. */
export const TLS_DIR = 'tls';
export const CA_FILE = 'ca.pem';
const CA_KEY_FILE = 'ca-key.pem';
const SERVER_CERT_FILE = 'server.pem';
const SERVER_KEY_FILE = 'server-key.pem';

/** Renew the server certificate when it expires within this many days. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

export interface WorkspaceTls {
  /** PEM of the CA clients must trust (e.g. through NODE_EXTRA_CA_CERTS or a sink's tls.caFile). */
  readonly caFile: string;
  readonly cert: string;
  readonly key: string;
  /** True when this start generated the CA (clients that trusted an earlier one must trust the new file). */
  readonly generated: boolean;
}

function writePrivate(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** True when `certPem` is issued by `caPem`, valid now and well beyond, and names every one of `names`. */
function reusable(certPem: string, caPem: string, names: readonly string[], nowMs: number): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    if (!cert.verify(ca.publicKey) || Date.parse(ca.validTo) - nowMs < RENEW_BEFORE_MS) return false;
    if (Date.parse(cert.validTo) - nowMs < RENEW_BEFORE_MS || Date.parse(cert.validFrom) > nowMs) return false;
    return names.every((n) => (isIP(n) ? cert.checkIP(n) !== undefined : cert.checkHost(n) !== undefined));
  } catch {
    return false;
  }
}

/**
 * The workspace's TLS material under `<dataDir>/tls`: a CA and a server certificate it issued for
 * localhost, 127.0.0.1, ::1 and `host`. Generated on first use (files mode 600), reused afterwards; both are
 * generated again when they are missing, damaged, close to expiry or do not name `host`.
 */
export function ensureWorkspaceTls(dataDir: string, host: string, nowMs = Date.now()): WorkspaceTls {
  const dir = join(dataDir, TLS_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const caFile = join(dir, CA_FILE);
  const names = [...new Set(['localhost', '127.0.0.1', '::1', host.replace(/^\[|\]$/g, '')])];
  const caPem = readIfPresent(caFile);
  const cert = readIfPresent(join(dir, SERVER_CERT_FILE));
  const key = readIfPresent(join(dir, SERVER_KEY_FILE));
  if (caPem && cert && key && reusable(cert, caPem, names, nowMs)) return { caFile, cert, key, generated: false };

  const ca = createTestCa('OMA local workspace CA');
  const server = ca.issue({
    commonName: 'localhost',
    dnsNames: names.filter((n) => isIP(n) === 0),
    ipAddresses: names.filter((n) => isIP(n) !== 0),
    usage: 'server',
  });
  writePrivate(join(dir, CA_KEY_FILE), ca.keyPem);
  writePrivate(join(dir, SERVER_KEY_FILE), server.keyPem);
  writePrivate(join(dir, SERVER_CERT_FILE), server.certPem);
  writePrivate(caFile, ca.certPem);
  return { caFile, cert: server.certPem, key: server.keyPem, generated: true };
}
