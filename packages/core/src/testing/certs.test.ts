import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createSelfSignedCert, createTestCa, toPfx } from './certs.js';

describe('test certificates', () => {
  it('issues a server certificate the CA verifies, with the SANs asked for', () => {
    const ca = createTestCa();
    const leaf = ca.issue({ commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' });
    const x = new X509Certificate(leaf.certPem);
    expect(x.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(x.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
  });

  it('gives thumbprints of the DER and a PFX that Node can load', () => {
    const cert = createSelfSignedCert({ commonName: 'oma-client' });
    const x = new X509Certificate(cert.certPem);
    expect(Buffer.from(cert.x5t, 'base64url').toString('hex')).toBe(x.fingerprint.replace(/:/g, '').toLowerCase());
    expect(Buffer.from(cert.x5tS256, 'base64url').toString('hex')).toBe(x.fingerprint256.replace(/:/g, '').toLowerCase());
    for (const alg of ['aes256', '3des'] as const) {
      expect(() => createSecureContext({ pfx: toPfx(cert, 'p@ss:/#', alg), passphrase: 'p@ss:/#' })).not.toThrow();
    }
  });
});
