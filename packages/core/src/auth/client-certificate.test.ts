import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import { Secret } from '../config/secret.js';
import { createSelfSignedCert, createTestCa, toPfx } from '../testing/certs.js';
import { loadClientCertificate } from './client-certificate.js';

const dir = mkdtempSync(join(tmpdir(), 'oma-cert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: string | Buffer, ext = 'pem'): string {
  const p = join(dir, `f${++n}.${ext}`);
  writeFileSync(p, content);
  return p;
}

const cert = createSelfSignedCert({ commonName: 'oma-client' });
const PASS = 'p@ss:/#wörd';
const secret = (v: string): Secret => new Secret(v, 'test');

function encryptedKey(keyPem: string, passphrase: string): string {
  return createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString();
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('loadClientCertificate', () => {
  it('reads a PEM file holding the certificate and its key', () => {
    const c = loadClientCertificate({ certificateFile: file(cert.certPem + cert.keyPem) });
    expect(c.x5t).toBe(cert.x5t);
    expect(c.x5tS256).toBe(cert.x5tS256);
    expect(c.chain).toEqual([cert.der]);
    expect(c.thumbprint).toBe(Buffer.from(cert.x5t, 'base64url').toString('hex').toUpperCase());
    expect(c.subject).toContain('CN=oma-client');
    expect(c.privateKey.asymmetricKeyType).toBe('rsa');
  });

  it('reads the key from keyFile, also when encrypted (PKCS#8) with a passphrase', () => {
    expect(loadClientCertificate({ certificateFile: file(cert.certPem), keyFile: file(cert.keyPem) }).x5t).toBe(cert.x5t);
    const keyFile = file(encryptedKey(cert.keyPem, PASS));
    expect(loadClientCertificate({ certificateFile: file(cert.certPem), keyFile, passphrase: secret(PASS) }).x5t).toBe(cert.x5t);
    const inline = file(cert.certPem + encryptedKey(cert.keyPem, PASS));
    expect(loadClientCertificate({ certificateFile: inline, passphrase: secret(PASS) }).x5t).toBe(cert.x5t);
  });

  it('says when an encrypted key has no passphrase or a wrong one, without printing it', () => {
    const keyFile = file(encryptedKey(cert.keyPem, PASS));
    expect(() => loadClientCertificate({ certificateFile: file(cert.certPem), keyFile })).toThrow(/is encrypted: set passphrase/);
    let err: unknown;
    try {
      loadClientCertificate({ certificateFile: file(cert.certPem), keyFile, passphrase: secret('nope-wrong') });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'OMA_ERR_CONFIG_INVALID', issues: [{ path: 'auth.passphrase' }] });
    expect(String((err as Error).message)).toMatch(/wrong passphrase/);
    expect(JSON.stringify(err) + String((err as Error).message)).not.toContain('nope-wrong');
  });

  it.each(['aes256', '3des'] as const)('reads a PKCS#12 file encrypted with %s', (alg) => {
    const c = loadClientCertificate({ certificateFile: file(toPfx(cert, PASS, alg), 'pfx'), passphrase: secret(PASS) });
    expect(c.x5t).toBe(cert.x5t);
    expect(c.chain[0]).toEqual(cert.der);
    expect(c.privateKey.asymmetricKeyType).toBe('rsa');
  });

  it('says when the PKCS#12 passphrase is wrong or missing', () => {
    const pfx = file(toPfx(cert, PASS), 'pfx');
    expect(() => loadClientCertificate({ certificateFile: pfx, passphrase: secret('wrong') })).toThrow(/wrong passphrase/);
    expect(() => loadClientCertificate({ certificateFile: pfx })).toThrow(/wrong passphrase \(none was set\)/);
  });

  it.runIf(hasOpenssl())('reads PKCS#12 files written by OpenSSL (current defaults and legacy 3DES)', () => {
    const pem = file(cert.certPem);
    const key = file(cert.keyPem);
    const variants: Record<string, string[]> = {
      current: [],
      legacy: ['-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1'],
    };
    for (const [name, extra] of Object.entries(variants)) {
      const out = join(dir, `openssl-${name}.p12`);
      execFileSync('openssl', ['pkcs12', '-export', '-in', pem, '-inkey', key, '-out', out, '-passout', `pass:${PASS}`, ...extra], { stdio: 'ignore' });
      expect(loadClientCertificate({ certificateFile: out, passphrase: secret(PASS) }).x5t, name).toBe(cert.x5t);
    }
  });

  it('puts the certificate of the key first and keeps the rest as the chain', () => {
    const ca = createTestCa();
    const leaf = ca.issue({ commonName: 'oma-leaf', usage: 'client' });
    const c = loadClientCertificate({ certificateFile: file(ca.certPem + leaf.certPem + leaf.keyPem) });
    expect(c.x5t).toBe(leaf.x5t);
    expect(c.chain).toEqual([leaf.der, ca.der]);
  });

  it('refuses a file without a private key, in PEM or PKCS#12', () => {
    expect(() => loadClientCertificate({ certificateFile: file(cert.certPem) })).toThrow(/no private key in .*set keyFile/);
    const certOnly = forge.pkcs12.toPkcs12Asn1(null, [forge.pki.certificateFromPem(cert.certPem)], PASS, { algorithm: 'aes256' });
    const pfx = file(Buffer.from(forge.asn1.toDer(certOnly).getBytes(), 'binary'), 'pfx');
    expect(() => loadClientCertificate({ certificateFile: pfx, passphrase: secret(PASS) })).toThrow(/no private key/);
  });

  it('refuses a key that does not match the certificate', () => {
    const other = createSelfSignedCert({ commonName: 'other' });
    expect(() => loadClientCertificate({ certificateFile: file(cert.certPem + other.keyPem) })).toThrow(
      /private key does not match the certificate .*CN=oma-client/,
    );
  });

  it('refuses a key that is not RSA', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => loadClientCertificate({ certificateFile: file(cert.certPem), keyFile: file(ec) })).toThrow(/ec; Entra ID certificate credentials need an RSA key/);
  });

  it('refuses an expired or not yet valid certificate', () => {
    const old = createSelfSignedCert({ commonName: 'old', notBefore: new Date('2020-01-01'), notAfter: new Date('2021-01-01') });
    expect(() => loadClientCertificate({ certificateFile: file(old.certPem + old.keyPem) })).toThrow(/expired on 2021-01-01T00:00:00.000Z/);
    const f = file(cert.certPem + cert.keyPem);
    expect(() => loadClientCertificate({ certificateFile: f }, Date.now() - 30 * 86_400_000)).toThrow(/is not valid before/);
  });

  it('says which file cannot be read or parsed', () => {
    expect(() => loadClientCertificate({ certificateFile: join(dir, 'missing.pem') })).toThrow(/cannot read .*missing\.pem: ENOENT/);
    expect(() => loadClientCertificate({ certificateFile: file(cert.certPem), keyFile: join(dir, 'nokey.pem') })).toThrow(/cannot read .*nokey\.pem: ENOENT/);
    expect(() => loadClientCertificate({ certificateFile: file(Buffer.from([1, 2, 3, 4]), 'pfx') })).toThrow(/neither a PEM file nor a readable PKCS#12/);
    expect(() => loadClientCertificate({ certificateFile: file(cert.keyPem) })).toThrow(/no PEM certificate/);
    expect(() => loadClientCertificate({ certificateFile: file(toPfx(cert, PASS), 'pfx'), keyFile: file(cert.keyPem) })).toThrow(/keyFile applies to a PEM/);
  });
});
