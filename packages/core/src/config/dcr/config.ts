import { resolve } from 'node:path';
import { z } from 'zod';
import { proxySchema, resolveEgress, tlsSchema } from '../../http/egress-config.js';
import type { Egress } from '../../http/egress.js';
import { INSECURE_HTTP_MESSAGE, isInsecureRemoteUrl } from '../../http/url.js';
import { type Secret, secretSchema } from '../secret.js';
import { durationMsSchema } from '../units.js';

/** Default and smallest poll interval of a DCR fetched from a URL. */
export const DCR_URL_POLL_DEFAULT_MS = 300_000;
export const DCR_URL_POLL_MIN_MS = 10_000;
/** Default and smallest (besides 0 = off) poll interval of a DCR file. */
export const DCR_FILE_POLL_DEFAULT_MS = 10_000;
export const DCR_FILE_POLL_MIN_MS = 100;

const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the agent sets itself or that would break the request. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'if-none-match', 'user-agent']);

/** Where the data collection rule comes from, after validation. */
export type DcrSettings =
  | {
      readonly kind: 'file';
      /** Absolute path of the JSON file. */
      readonly file: string;
      /** 0: read at start and on SIGHUP only. */
      readonly pollIntervalMs: number;
    }
  | {
      readonly kind: 'url';
      readonly url: string;
      readonly pollIntervalMs: number;
      readonly headers: Readonly<Record<string, Secret>>;
      readonly allowInsecureHttp: boolean;
      readonly requestTimeoutMs: number;
      /** Proxy and TLS settings of the fetch. */
      readonly egress: Egress;
    };

function checkDcrUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL such as https://config.example.com/dcr/web.json';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `unsupported scheme ${url.protocol} (use https)`;
  if (url.username !== '' || url.password !== '') return 'must not contain credentials (use headers)';
  if (url.hash !== '') return 'must not contain a fragment';
  return undefined;
}

export const dcrConfigSchema = z
  .strictObject({
    file: z.string().min(1).optional().describe('Path of a data collection rule JSON file (the ARM resource or its properties).'),
    url: z
      .string()
      .min(1)
      .superRefine((v, ctx) => {
        const problem = checkDcrUrl(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe('https URL the data collection rule JSON is fetched from (with If-None-Match; 304 means unchanged). A query string is never logged.'),
    pollIntervalMs: durationMsSchema
      .optional()
      .describe('How often the rule is checked for a change: a file every 10 s by default (0: only at start and on SIGHUP), a URL every 5 m by default (at least 10 s).'),
    headers: z
      .record(
        z.string().regex(HEADER_NAME_RE, 'expected an HTTP header name').refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), {
          message: 'this header is set by the agent',
        }),
        secretSchema,
      )
      .optional()
      .describe('URL only: extra request headers, each a secret (e.g. Authorization: { env: DCR_TOKEN }).'),
    allowInsecureHttp: z
      .boolean()
      .optional()
      .describe('URL only: allow plain http towards hosts other than loopback (default false; only for tests).'),
    requestTimeoutMs: durationMsSchema
      .pipe(z.number().min(1_000).max(300_000))
      .optional()
      .describe('URL only: deadline of one fetch (default 30 s).'),
    proxy: proxySchema
      .optional()
      .describe('URL only: forward proxy for the fetch, in the same forms as a destination\'s proxy option.'),
    tls: tlsSchema.optional().describe('URL only: TLS settings of the fetch (minimum version, CA bundle, client certificate).'),
  })
  .superRefine((c, ctx) => {
    if ((c.file === undefined) === (c.url === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of file or url' });
      return;
    }
    if (c.file !== undefined) {
      for (const k of ['headers', 'allowInsecureHttp', 'requestTimeoutMs', 'proxy', 'tls'] as const) {
        if (c[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `${k} applies to url only` });
      }
      const p = c.pollIntervalMs;
      if (p !== undefined && p !== 0 && p < DCR_FILE_POLL_MIN_MS) {
        ctx.addIssue({ code: 'custom', path: ['pollIntervalMs'], message: `a file is polled every ${DCR_FILE_POLL_MIN_MS} ms at the most often (0 turns polling off)` });
      }
      return;
    }
    if (c.pollIntervalMs !== undefined && c.pollIntervalMs < DCR_URL_POLL_MIN_MS) {
      ctx.addIssue({ code: 'custom', path: ['pollIntervalMs'], message: `a URL is polled every ${DCR_URL_POLL_MIN_MS / 1000} s at the most often` });
    }
    if (c.url !== undefined && c.allowInsecureHttp !== true && isInsecureRemoteUrl(c.url)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: INSECURE_HTTP_MESSAGE });
    }
  })
  .transform(
    (c): DcrSettings =>
      c.file !== undefined
        ? { kind: 'file', file: resolve(c.file), pollIntervalMs: c.pollIntervalMs ?? DCR_FILE_POLL_DEFAULT_MS }
        : {
            kind: 'url',
            url: c.url!,
            pollIntervalMs: c.pollIntervalMs ?? DCR_URL_POLL_DEFAULT_MS,
            headers: c.headers ?? {},
            allowInsecureHttp: c.allowInsecureHttp ?? false,
            requestTimeoutMs: c.requestTimeoutMs ?? 30_000,
            egress: resolveEgress({ proxy: c.proxy, tls: c.tls ?? tlsSchema.parse({}) }),
          },
  )
  .describe('Sources defined by an agent data collection rule (DCR) JSON, from a file or an https URL; applied without a restart when it changes.');

/** The URL without its query string, for logs (a query may carry a SAS token). */
export function redactedUrl(value: string): string {
  try {
    const u = new URL(value);
    return `${u.origin}${u.pathname}${u.search ? '?[redacted]' : ''}`;
  } catch {
    return '[invalid url]';
  }
}
