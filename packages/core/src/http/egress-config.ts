import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import { Secret, secretSchema } from '../config/secret.js';
import type { TlsClientOptions } from './dispatcher.js';
import type { Egress, ProxySpec } from './egress.js';
import { checkNoProxyEntry, parseProxyUrl, readProxyConf } from './proxy.js';

const PROXY_DESCRIPTION =
  'Forward proxy for every connection to Azure (CONNECT tunnels, Basic authentication): a URL such as http://user:password@proxy:3128, or { url | file, username, password, noProxy }. Azure IMDS is never proxied.';
const TLS_DESCRIPTION = 'TLS of connections to Azure: minimum version, private CA bundle, client certificate (mutual TLS).';

/** The `proxy` option once loaded: the proxy (absent when a proxy file is empty) and its exceptions. */
export interface ProxyConfig {
  readonly proxy?: ProxySpec;
  readonly noProxy: readonly string[];
}

/** The `tls` option once loaded: file contents, key material kept as secrets. */
export interface TlsConfig {
  readonly minVersion: '1.2' | '1.3';
  /** PEM bundle of trusted CAs, replacing Node's bundled list. */
  readonly ca?: string;
  /** PEM client certificate chain. */
  readonly cert?: string;
  /** PEM private key of `cert`. */
  readonly key?: Secret;
  /** PKCS#12 (PFX) file, base64. */
  readonly pfx?: Secret;
  readonly passphrase?: Secret;
}

/** What `egressOptionsShape` gives once parsed. */
export interface EgressOptions {
  readonly proxy?: ProxyConfig | undefined;
  readonly tls: TlsConfig;
}

function readFile(path: string, what: string, ctx: z.RefinementCtx, key: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    ctx.addIssue({ code: 'custom', path: [key], message: `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'read error'}` });
    return undefined;
  }
}

const noProxySchema = z
  .array(
    z.string().superRefine((v, ctx) => {
      const problem = checkNoProxyEntry(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  )
  .default([])
  .describe(
    'Hosts reached directly, not through the proxy: * (all), example.com (and its subdomains), .example.com, an IP address, a CIDR range such as 10.0.0.0/8, each optionally with :port. Azure IMDS (169.254.169.254) is never proxied.',
  );

const proxyObjectSchema = z
  .strictObject({
    url: z
      .string()
      .optional()
      .describe('Proxy as [http|https://][user:password@]host[:port]; the password may be percent-encoded. Give url or file.'),
    file: z
      .string()
      .min(1)
      .optional()
      .describe('File holding the proxy URL on one line, such as the OMS agent\'s /etc/opt/microsoft/omsagent/proxy.conf; an empty file means no proxy. Give url or file.'),
    username: z.string().min(1).optional().describe('Proxy user (Basic authentication), when not in the URL.'),
    password: secretSchema.optional().describe('Proxy password, when not in the URL: { env: NAME } or { file: PATH }.'),
    noProxy: noProxySchema,
  })
  .superRefine((c, ctx) => {
    if ((c.url === undefined) === (c.file === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of url and file' });
    }
    if (c.password !== undefined && c.username === undefined) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'a password needs a username' });
    }
  });

/** Adds the separate username/password to a proxy read from a URL or file. */
function withCredentials(spec: ProxySpec, username: string | undefined, password: Secret | undefined, ctx: z.RefinementCtx): ProxySpec {
  if (username === undefined) return spec;
  if (spec.username !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['username'], message: 'the proxy URL already holds a user; give the credentials in one place only' });
    return spec;
  }
  return { ...spec, username, ...(password !== undefined ? { password } : {}) };
}

/**
 * `proxy`: a proxy URL string (docs/protocol-notes.md#proxy-format format; it may hold the password and is never printed),
 * or `{ url | file, username?, password?, noProxy? }`. Files are read when the config is loaded, so a
 * bad proxy file is reported by `oma validate` with its config path.
 */
export const proxySchema = z
  .union([z.string(), proxyObjectSchema])
  .transform((input, ctx): ProxyConfig => {
    if (typeof input === 'string') {
      try {
        return { proxy: parseProxyUrl(input), noProxy: [] };
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }
    let spec: ProxySpec | undefined;
    try {
      spec = input.url !== undefined ? parseProxyUrl(input.url) : readProxyConf(input.file!);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: [input.url !== undefined ? 'url' : 'file'], message: (err as Error).message });
      return z.NEVER;
    }
    if (spec === undefined) return { noProxy: input.noProxy };
    return { proxy: withCredentials(spec, input.username, input.password, ctx), noProxy: input.noProxy };
  })
  .describe(PROXY_DESCRIPTION);

const minVersionSchema = z
  .union([z.enum(['1.2', '1.3']), z.literal([1.2, 1.3])])
  .transform((v) => String(v) as '1.2' | '1.3')
  .default('1.2')
  .describe('Oldest TLS version accepted: 1.2 or 1.3. Nothing older is ever offered.');

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Certificates of a PEM bundle; an issue (at `key`) when there is none or one does not parse. */
function pemCertificates(pem: string, what: string, path: string, ctx: z.RefinementCtx, key: string): string | undefined {
  const blocks = pem.match(PEM_CERT_RE) ?? [];
  if (blocks.length === 0) {
    ctx.addIssue({ code: 'custom', path: [key], message: `${what} ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` });
    return undefined;
  }
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      ctx.addIssue({ code: 'custom', path: [key], message: `${what} ${path}: certificate ${i + 1} cannot be parsed` });
      return undefined;
    }
  }
  return blocks.join('\n');
}

/**
 * `tls`: minimum version, private CA bundle and client certificate (mutual TLS). Files are read and
 * checked when the config is loaded.
 */
export const tlsSchema = z
  .strictObject({
    minVersion: minVersionSchema,
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM file of the CA certificates to trust, e.g. a private CA or a TLS-inspecting proxy's CA. It replaces the bundled public CAs: include every CA the connections need.",
      ),
    certFile: z.string().min(1).optional().describe('PEM client certificate (chain) for mutual TLS; needs keyFile.'),
    keyFile: z.string().min(1).optional().describe('PEM private key of certFile.'),
    pfxFile: z.string().min(1).optional().describe('PKCS#12 (.pfx/.p12) file with the client certificate and key, instead of certFile and keyFile.'),
    passphrase: secretSchema.optional().describe('Passphrase of keyFile or pfxFile: { env: NAME } or { file: PATH }.'),
  })
  .superRefine((c, ctx) => {
    if (c.certFile !== undefined && c.keyFile === undefined) ctx.addIssue({ code: 'custom', path: ['keyFile'], message: 'certFile needs keyFile' });
    if (c.keyFile !== undefined && c.certFile === undefined) ctx.addIssue({ code: 'custom', path: ['certFile'], message: 'keyFile needs certFile' });
    if (c.pfxFile !== undefined && (c.certFile !== undefined || c.keyFile !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['pfxFile'], message: 'give pfxFile or certFile and keyFile, not both' });
    }
    if (c.passphrase !== undefined && c.keyFile === undefined && c.pfxFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['passphrase'], message: 'a passphrase needs keyFile or pfxFile' });
    }
  })
  .transform((c, ctx): TlsConfig => {
    const out: { -readonly [K in keyof TlsConfig]: TlsConfig[K] } = { minVersion: c.minVersion };
    if (c.caFile !== undefined) {
      const pem = readFile(c.caFile, 'CA file', ctx, 'caFile');
      const ca = pem && pemCertificates(pem.toString('utf8'), 'CA file', c.caFile, ctx, 'caFile');
      if (ca !== undefined) out.ca = ca;
    }
    if (c.certFile !== undefined && c.keyFile !== undefined) {
      const certPem = readFile(c.certFile, 'certificate file', ctx, 'certFile');
      const cert = certPem && pemCertificates(certPem.toString('utf8'), 'certificate file', c.certFile, ctx, 'certFile');
      const key = readFile(c.keyFile, 'key file', ctx, 'keyFile');
      if (cert !== undefined) out.cert = cert;
      if (key !== undefined) out.key = new Secret(key.toString('utf8'), `file:${c.keyFile}`);
    }
    if (c.pfxFile !== undefined) {
      const pfx = readFile(c.pfxFile, 'PFX file', ctx, 'pfxFile');
      if (pfx !== undefined) out.pfx = new Secret(pfx.toString('base64'), `file:${c.pfxFile}`);
    }
    if (c.passphrase !== undefined) out.passphrase = c.passphrase;
    if ((out.cert !== undefined && out.key !== undefined) || out.pfx !== undefined) {
      // Load the client certificate now: a wrong passphrase or a key of another certificate is a
      // config error, not a failure of every request later.
      try {
        createSecureContext(toTlsClientOptions(out) as Parameters<typeof createSecureContext>[0]);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const what = out.pfx !== undefined ? 'pfxFile' : 'keyFile';
        ctx.addIssue({
          code: 'custom',
          path: [what],
          message: `cannot load the client certificate: ${code ?? 'invalid'} (wrong passphrase, a key that does not match the certificate, or not ${
            out.pfx !== undefined ? 'a PKCS#12 file' : 'a PEM key'
          })`,
        });
      }
    }
    return out;
  })
  .describe(TLS_DESCRIPTION);

/** Options to spread into the schema of every sink that talks to Azure: `proxy` and `tls`. */
export const egressOptionsShape = {
  proxy: proxySchema.optional().describe(PROXY_DESCRIPTION),
  tls: tlsSchema.prefault({}).describe(TLS_DESCRIPTION),
};

function toTlsClientOptions(t: TlsConfig): TlsClientOptions {
  return {
    minVersion: t.minVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    ...(t.ca !== undefined ? { ca: t.ca } : {}),
    ...(t.cert !== undefined ? { cert: t.cert } : {}),
    ...(t.key !== undefined ? { key: t.key.reveal() } : {}),
    ...(t.pfx !== undefined ? { pfx: Buffer.from(t.pfx.reveal(), 'base64') } : {}),
    ...(t.passphrase !== undefined ? { passphrase: t.passphrase.reveal() } : {}),
  };
}

/**
 * The `Egress` of a parsed sink config (`egressOptionsShape`). Files were read when the config was
 * loaded, so this neither reads nor fails.
 */
export function resolveEgress(cfg: EgressOptions): Egress {
  return {
    ...(cfg.proxy?.proxy !== undefined ? { proxy: cfg.proxy.proxy } : {}),
    noProxy: cfg.proxy?.noProxy ?? [],
    tls: toTlsClientOptions(cfg.tls),
  };
}
