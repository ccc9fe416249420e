import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Forge from 'node-forge';
import type { Secret } from '../config/secret.js';
import { ConfigError } from '../errors.js';

const require = createRequire(import.meta.url);
let forgeModule: typeof Forge | undefined;
/** node-forge, loaded the first time a PKCS#12 file is opened (it is large, and most agents never need it). */
function forge(): typeof Forge {
  forgeModule ??= require('node-forge') as typeof Forge;
  return forgeModule;
}

/** Where a client certificate and its private key come from (docs/protocol-notes.md#client-certificate). */
export interface ClientCertificateSource {
  /**
   * A PEM file with the certificate (and, unless `keyFile` is given, its private key; more certificates
   * form the chain), or a PKCS#12 file (`.pfx`/`.p12`, binary) holding both.
   */
  readonly certificateFile: string;
  /** A PEM private key, when it is not in `certificateFile`. */
  readonly keyFile?: string;
  /** Password of an encrypted PEM key or of the PKCS#12 file. */
  readonly passphrase?: Secret;
}

/** A certificate ready to sign client assertions. */
export interface ClientCertificate {
  readonly privateKey: KeyObject;
  /** DER certificates: the one matching the private key first, then the rest of the file (the chain). */
  readonly chain: readonly Buffer[];
  /** base64url SHA-1 of the certificate DER (JWT header `x5t`). */
  readonly x5t: string;
  /** base64url SHA-256 of the certificate DER (JWT header `x5t#S256`). */
  readonly x5tS256: string;
  /** SHA-1 thumbprint in upper-case hex, as the Azure portal shows it. */
  readonly thumbprint: string;
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Warn at start when the certificate expires within this long. */
export const CERTIFICATE_EXPIRY_WARNING_MS = 30 * 86_400_000;

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const PEM_KEY_RE = /-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END \1?PRIVATE KEY-----/;

function fail(field: 'certificateFile' | 'keyFile' | 'passphrase', message: string, cause?: unknown): ConfigError {
  return new ConfigError(`client certificate: ${message}`, [{ path: `auth.${field}`, message }], cause === undefined ? undefined : { cause });
}

function readFile(field: 'certificateFile' | 'keyFile', path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw fail(field, `cannot read ${path}: ${code}`, err);
  }
}

function parseCertificates(pem: string, path: string): X509Certificate[] {
  return [...pem.matchAll(PEM_CERT_RE)].map((m, i) => {
    try {
      return new X509Certificate(m[0]);
    } catch (err) {
      throw fail('certificateFile', `certificate ${i + 1} in ${path} is not a valid X.509 certificate`, err);
    }
  });
}

function parsePemKey(pem: string, path: string, field: 'certificateFile' | 'keyFile', passphrase: Secret | undefined): KeyObject {
  const block = PEM_KEY_RE.exec(pem)?.[0];
  if (block === undefined) {
    throw fail(
      field,
      field === 'keyFile' ? `no PEM private key in ${path}` : `no private key in ${path}: append it to the file or set keyFile`,
    );
  }
  try {
    return createPrivateKey({ key: block, format: 'pem', ...(passphrase ? { passphrase: passphrase.reveal() } : {}) });
  } catch (err) {
    const code = (err as { code?: string }).code;
    // OpenSSL 3 reports a missing passphrase as an interrupted password prompt.
    const encrypted = block.includes('ENCRYPTED') || code === 'ERR_MISSING_PASSPHRASE' || code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED';
    if (encrypted && !passphrase) throw fail('passphrase', `the private key in ${path} is encrypted: set passphrase`, err);
    if (encrypted) {
      throw fail('passphrase', `cannot decrypt the private key in ${path}: wrong passphrase?`, err);
    }
    throw fail(field, `the private key in ${path} cannot be read (${code ?? 'invalid key'})`, err);
  }
}

function derOf(asn1: Forge.asn1.Asn1): Buffer {
  return Buffer.from(forge().asn1.toDer(asn1).getBytes(), 'binary');
}

function pkcs12Asn1(data: Buffer): Forge.asn1.Asn1 {
  return forge().asn1.fromDer(forge().util.createBuffer(data.toString('binary')));
}

/**
 * Opens a PKCS#12 file with node-forge. forge derives PBES2 (AES) keys from a password's characters
 * truncated to bytes, where OpenSSL and Windows use its UTF-8 bytes; the two agree for ASCII only. When a
 * non-ASCII password passes the MAC check (done first, with the standard BMP encoding) but opening
 * fails after it, the file is opened again without its (already verified) MAC and with the UTF-8 bytes.
 * Decrypting with the wrong key usually fails its padding check, but now and then (about once in a
 * couple of hundred files) the padding happens to look valid and the garbage fails later, as ASN.1:
 * any failure after the MAC check counts.
 */
function openPkcs12(data: Buffer, password: string): Forge.pkcs12.Pkcs12Pfx {
  try {
    return forge().pkcs12.pkcs12FromAsn1(pkcs12Asn1(data), false, password);
  } catch (err) {
    const text = err instanceof Error ? err.message : '';
    if (/^[\x00-\x7f]*$/.test(password) || /MAC could not be verified/i.test(text)) throw err;
    const asn1 = pkcs12Asn1(data);
    if (Array.isArray(asn1.value)) asn1.value.splice(2);
    return forge().pkcs12.pkcs12FromAsn1(asn1, false, forge().util.encodeUtf8(password));
  }
}

function parsePfx(data: Buffer, path: string, passphrase: Secret | undefined): { key: KeyObject; certs: X509Certificate[] } {
  let p12: Forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = openPkcs12(data, passphrase?.reveal() ?? '');
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    if (/MAC could not be verified|wrong password|Invalid password|Failed to decrypt|Unable to decrypt/i.test(text)) {
      throw fail('passphrase', `cannot open ${path}: wrong passphrase${passphrase ? '' : ' (none was set)'}`, err);
    }
    throw fail('certificateFile', `${path} is neither a PEM file nor a readable PKCS#12 (PFX) file`, err);
  }
  const keyBags = [
    ...(p12.getBags({ bagType: forge().pki.oids.pkcs8ShroudedKeyBag! })[forge().pki.oids.pkcs8ShroudedKeyBag!] ?? []),
    ...(p12.getBags({ bagType: forge().pki.oids.keyBag! })[forge().pki.oids.keyBag!] ?? []),
  ];
  const keyBag = keyBags[0];
  if (!keyBag) throw fail('certificateFile', `no private key in ${path} (export the certificate with its private key)`);
  let key: KeyObject;
  try {
    key = keyBag.key
      ? createPrivateKey({ key: forge().pki.privateKeyToPem(keyBag.key), format: 'pem' })
      : createPrivateKey({ key: derOf(keyBag.asn1), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw fail('certificateFile', `the private key in ${path} cannot be read`, err);
  }
  const certBags = p12.getBags({ bagType: forge().pki.oids.certBag! })[forge().pki.oids.certBag!] ?? [];
  const certs = certBags.map((bag, i) => {
    try {
      // certificateToAsn1 re-encodes the parsed TBSCertificate as read, so the DER (and thumbprint) is the file's.
      return new X509Certificate(derOf(bag.cert ? forge().pki.certificateToAsn1(bag.cert) : bag.asn1));
    } catch (err) {
      throw fail('certificateFile', `certificate ${i + 1} in ${path} is not a valid X.509 certificate`, err);
    }
  });
  return { key, certs };
}

/**
 * Loads a client certificate and its RSA private key from PEM or PKCS#12 files, checks that they belong
 * together and that the certificate is valid at `nowMs`. Throws a ConfigError that names the problem:
 * unreadable file, missing or wrong passphrase, no private key, key and certificate that do not match,
 * a key that is not RSA, an expired or not yet valid certificate.
 */
export function loadClientCertificate(source: ClientCertificateSource, nowMs: number = Date.now()): ClientCertificate {
  const path = source.certificateFile;
  const data = readFile('certificateFile', path);
  let key: KeyObject;
  let certs: X509Certificate[];
  const text = data.toString('latin1');
  if (text.includes('-----BEGIN ')) {
    certs = parseCertificates(text, path);
    if (certs.length === 0) throw fail('certificateFile', `no PEM certificate in ${path}`);
    key = source.keyFile
      ? parsePemKey(readFile('keyFile', source.keyFile).toString('latin1'), source.keyFile, 'keyFile', source.passphrase)
      : parsePemKey(text, path, 'certificateFile', source.passphrase);
  } else {
    if (source.keyFile) throw fail('keyFile', 'keyFile applies to a PEM certificate file only; a PKCS#12 file holds its own key');
    ({ key, certs } = parsePfx(data, path, source.passphrase));
    if (certs.length === 0) throw fail('certificateFile', `no certificate in ${path}`);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw fail(
      source.keyFile ? 'keyFile' : 'certificateFile',
      `the private key is ${key.asymmetricKeyType ?? 'of an unknown type'}; Entra ID certificate credentials need an RSA key`,
    );
  }
  const leaf = certs.find((c) => c.checkPrivateKey(key));
  if (!leaf) {
    throw fail(
      source.keyFile ? 'keyFile' : 'certificateFile',
      `the private key does not match the certificate${certs.length > 1 ? 's' : ''} in ${path} (${certs[0]!.subject.replace(/\n/g, ', ')})`,
    );
  }
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  const thumbprint = createHash('sha1').update(leaf.raw).digest('hex').toUpperCase();
  if (nowMs > notAfter.getTime()) {
    throw fail('certificateFile', `the certificate ${thumbprint} in ${path} expired on ${notAfter.toISOString()}`);
  }
  if (nowMs < notBefore.getTime()) {
    throw fail('certificateFile', `the certificate ${thumbprint} in ${path} is not valid before ${notBefore.toISOString()}`);
  }
  return {
    privateKey: key,
    chain: [leaf.raw, ...certs.filter((c) => c !== leaf).map((c) => c.raw)],
    x5t: createHash('sha1').update(leaf.raw).digest('base64url'),
    x5tS256: createHash('sha256').update(leaf.raw).digest('base64url'),
    thumbprint,
    subject: leaf.subject.replace(/\n/g, ', '),
    notBefore,
    notAfter,
  };
}
