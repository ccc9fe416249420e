import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** A certificate with its private key, PEM-encoded, for tests. */
export interface TestCert {
  readonly certPem: string;
  readonly keyPem: string;
  /** DER encoding of the certificate. */
  readonly der: Buffer;
  /** base64url SHA-1 of the DER (JWT `x5t`). */
  readonly x5t: string;
  /** base64url SHA-256 of the DER (JWT `x5t#S256`). */
  readonly x5tS256: string;
}

export interface TestCertOptions {
  readonly commonName: string;
  /** Subject alternative names of type DNS. */
  readonly dnsNames?: readonly string[];
  /** Subject alternative names of type IP. */
  readonly ipAddresses?: readonly string[];
  /** Extended key usage; default server and client auth. */
  readonly usage?: 'server' | 'client' | 'both';
  /** Validity window; default one day ago to ten years ahead. */
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

function newKeyPair(): { forgeKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; keyPem: string } {
  // Node generates RSA keys natively (fast); forge only signs the certificate.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(keyPem);
  const publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  return { forgeKey, publicKey, keyPem };
}

function finish(cert: forge.pki.Certificate, keyPem: string): TestCert {
  const certPem = forge.pki.certificateToPem(cert);
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return {
    certPem,
    keyPem,
    der,
    x5t: createHash('sha1').update(der).digest('base64url'),
    x5tS256: createHash('sha256').update(der).digest('base64url'),
  };
}

function baseCert(subjectCn: string, publicKey: forge.pki.rsa.PublicKey, opts: Partial<TestCertOptions>): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // Positive serial: first byte below 0x80.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = opts.notBefore ?? new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = opts.notAfter ?? new Date(Date.now() + 10 * 365 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: subjectCn }]);
  return cert;
}

/**
 * A self-signed CA certificate that can issue test certificates. The local workspace also uses it to make
 * the CA and server certificate it serves TLS with (`oma workspace serve --tls`).
 */
export function createTestCa(commonName = 'OMA Test CA'): TestCert & { readonly issue: (opts: TestCertOptions) => TestCert } {
  const { forgeKey, publicKey, keyPem } = newKeyPair();
  const cert = baseCert(commonName, publicKey, {});
  cert.setIssuer([{ name: 'commonName', value: commonName }]);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  const ca = finish(cert, keyPem);
  const issue = (opts: TestCertOptions): TestCert => {
    const leaf = newKeyPair();
    const c = baseCert(opts.commonName, leaf.publicKey, opts);
    c.setIssuer(cert.subject.attributes);
    const usage = opts.usage ?? 'both';
    const altNames = [
      ...(opts.dnsNames ?? []).map((value) => ({ type: 2, value })),
      ...(opts.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
    ];
    c.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: usage !== 'client', clientAuth: usage !== 'server' },
      ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
    ]);
    c.sign(forgeKey, forge.md.sha256.create());
    return finish(c, leaf.keyPem);
  };
  return { ...ca, issue };
}

/** A self-signed certificate, as uploaded to an Entra ID app registration for certificate credentials. */
export function createSelfSignedCert(opts: TestCertOptions): TestCert {
  const { forgeKey, publicKey, keyPem } = newKeyPair();
  const cert = baseCert(opts.commonName, publicKey, opts);
  cert.setIssuer([{ name: 'commonName', value: opts.commonName }]);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  return finish(cert, keyPem);
}

/**
 * Packs a certificate and its key into a PKCS#12 (PFX) file. `algorithm` `aes256` is what current
 * OpenSSL and Windows write; `3des` is the legacy format older tools produce.
 */
export function toPfx(cert: TestCert, password: string, algorithm: 'aes256' | '3des' = 'aes256'): Buffer {
  const key = forge.pki.privateKeyFromPem(cert.keyPem);
  const c = forge.pki.certificateFromPem(cert.certPem);
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, [c], password, { algorithm, generateLocalKeyId: true, friendlyName: 'oma-test' });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}
