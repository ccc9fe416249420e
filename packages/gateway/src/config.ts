import { type Cidr, DEFAULT_CLIENT_NETWORKS, parseCidr } from './client-networks.js';
import { z } from 'zod';
import { CONFIG_PARSE, ConfigError, Secret, durationMsSchema, secretSchema, type ConfigIssue } from '@oma/core';
import { hostPatternProblem, normalizeHost } from './allowlist.js';

/**
 * Hosts an agent needs to reach Azure Monitor: Logs Ingestion (data collection endpoints), the legacy
 * ODS/OMS endpoints, the Azure Monitor control plane and Entra ID token endpoints, in the public,
 * US Government and China clouds.
 */
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = [
  // Public cloud
  '*.ingest.monitor.azure.com',
  'login.microsoftonline.com',
  '*.ods.opinsights.azure.com',
  '*.oms.opinsights.azure.com',
  '*.monitor.azure.com',
  // US Government
  '*.ingest.monitor.azure.us',
  'login.microsoftonline.us',
  '*.ods.opinsights.azure.us',
  '*.oms.opinsights.azure.us',
  '*.monitor.azure.us',
  // China (21Vianet)
  '*.ingest.monitor.azure.cn',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
  '*.ods.opinsights.azure.cn',
  '*.oms.opinsights.azure.cn',
  '*.monitor.azure.cn',
];

/** The relay proxy the gateway tunnels through, parsed from `http://[user:pass@]host:port`. */
export interface UpstreamProxy {
  /** Host name or IP address (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: Secret;
  /** `host:port` for logs: never carries credentials. */
  readonly display: string;
}

function parseUpstreamProxy(value: string, ctx: z.RefinementCtx): UpstreamProxy {
  const raw = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected a proxy URL such as http://proxy.example.com:3128' });
    return z.NEVER;
  }
  if (url.protocol !== 'http:') {
    ctx.addIssue({ code: 'custom', message: `unsupported proxy scheme ${url.protocol} (only http:// is supported; TLS runs inside the tunnel)` });
    return z.NEVER;
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    ctx.addIssue({ code: 'custom', message: 'a proxy URL has no path, query or fragment' });
    return z.NEVER;
  }
  const host = normalizeHost(url.hostname);
  if (host === undefined) {
    ctx.addIssue({ code: 'custom', message: 'invalid proxy host' });
    return z.NEVER;
  }
  let username: string | undefined;
  let password: Secret | undefined;
  try {
    if (url.username !== '') username = decodeURIComponent(url.username);
    if (url.password !== '') password = new Secret(decodeURIComponent(url.password), 'upstreamProxy');
  } catch {
    ctx.addIssue({ code: 'custom', message: 'invalid percent-encoding in the proxy credentials' });
    return z.NEVER;
  }
  if (password !== undefined && username === undefined) {
    ctx.addIssue({ code: 'custom', message: 'a proxy password needs a user name' });
    return z.NEVER;
  }
  const port = url.port === '' ? 80 : Number(url.port);
  const display = `${url.hostname}:${port}`;
  return { host, port, display, ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

const hostPatternSchema = z
  .string()
  .superRefine((value, ctx) => {
    const problem = hostPatternProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((value) => value.trim().toLowerCase());

const positiveDurationMs = durationMsSchema.pipe(z.number().int().positive());

function toCidr(value: string, ctx: z.RefinementCtx): Cidr {
  const c = parseCidr(value);
  if (typeof c === 'string') {
    ctx.addIssue({ code: 'custom', message: c });
    return z.NEVER;
  }
  return c;
}

export const gatewayConfigSchema = z
  .strictObject({
    listen: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1').describe('Address the gateway listens on (0.0.0.0 or :: for every interface).'),
        port: z.number().int().min(0).max(65535).default(8080).describe('TCP port the gateway listens on (0 picks a free port).'),
      })
      .prefault({})
      .describe('Where agents connect to the gateway.'),
    allowedHosts: z
      .array(hostPatternSchema)
      .min(1)
      .default([...DEFAULT_ALLOWED_HOSTS])
      .describe('Hosts agents may tunnel to: exact names or IP addresses, or "*.suffix" wildcards; case-insensitive. Defaults to the Azure Monitor ingestion and Entra ID hosts of every cloud.'),
    clientNetworks: z
      .array(z.string().min(1).transform(toCidr))
      .min(1)
      .prefault([...DEFAULT_CLIENT_NETWORKS])
      .describe('Client addresses that may use the gateway, as CIDR blocks (IPv4 or IPv6; a bare address is one host); others get 403. Default: loopback and the private and link-local ranges.'),
    allowedPorts: z
      .array(z.number().int().min(1).max(65535))
      .min(1)
      .default([443])
      .describe('Target ports agents may tunnel to.'),
    maxConnections: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe('Most tunnels open (or being opened) at once; further CONNECT requests get 503.'),
    idleTimeoutMs: positiveDurationMs
      .default(120_000)
      .describe('A tunnel with no traffic in either direction for this long is closed (ms or "2m").'),
    connectTimeoutMs: positiveDurationMs
      .default(10_000)
      .describe('Time allowed to resolve and connect to a target or through the upstream proxy before answering 504.'),
    shutdownGraceMs: durationMsSchema
      .default(5_000)
      .describe('On shutdown, time open tunnels get to finish before they are closed.'),
    upstreamProxy: z
      .string()
      .min(1)
      .transform(parseUpstreamProxy)
      .optional()
      .describe('Relay proxy to tunnel through, as http://[user:password@]host:port (Basic auth; percent-encode special characters).'),
    auth: z
      .strictObject({
        username: z
          .string()
          .min(1)
          .refine((u) => !u.includes(':'), 'a user name cannot contain ":"')
          .describe('User name clients send in Proxy-Authorization (Basic).'),
        password: secretSchema.describe('Password clients send in Proxy-Authorization: a string, { env: NAME } or { file: PATH }.'),
      })
      .optional()
      .describe('Credentials clients must present (Proxy-Authorization: Basic); none when absent.'),
  })
  .describe('The OMA gateway: an HTTP CONNECT forward proxy for hosts without internet access.');

/** The gateway's config as written. */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
/** The validated config, defaults applied, secrets resolved. */
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

/** Validates a gateway config, reporting every problem at once as a `ConfigError` with paths. */
export function parseGatewayConfig(input: unknown): GatewayConfig {
  const result = gatewayConfigSchema.safeParse(input ?? {}, CONFIG_PARSE);
  if (result.success) return result.data;
  const issues: ConfigIssue[] = result.error.issues.map((issue) => ({
    path: issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.'),
    message: issue.message,
  }));
  throw new ConfigError(`invalid gateway config: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}
