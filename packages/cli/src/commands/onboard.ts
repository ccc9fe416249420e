import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { parseProxyUrl, type ProxySpec } from '@oma/core';
import type { Platform } from '../platform.js';
import { validateConfig } from './validate.js';

/** Where the Linux package keeps the agent's config; `oma onboard` writes it there unless told otherwise. */
export const DEFAULT_ONBOARD_CONFIG = '/etc/opt/oma/oma.yaml';
/** The agent's state directory in the Linux package. */
export const DEFAULT_ONBOARD_DATA_DIR = '/var/opt/oma';
/** The system user the packaged agent runs as; it must be able to read the secret files. */
export const DEFAULT_SECRET_OWNER = 'oma';

export const ONBOARD_USAGE = `Usage:
  oma onboard --workspace-id ID --shared-key KEY [options]
  oma onboard --dce URL --dcr-id ID CREDENTIAL [--stream TABLE=STREAM ...] [options]
  oma onboard --local [options]
      writes the agent's config for a Log Analytics workspace (the legacy HTTP Data Collector API with
      the workspace id and key, or the Logs Ingestion API with a data collection rule), or for the
      embedded local workspace; secrets go to 0600 files beside it, readable by the agent's user
      CREDENTIAL (with --dce):
      --tenant-id T --client-id C --client-secret S    an app registration with a client secret
      --tenant-id T --client-id C --certificate FILE [--key-file FILE]   ... with a certificate
      --managed-identity [--client-id C]               the VM's (or a user-assigned) managed identity
      --arc                                            the Azure Arc-enabled server's identity
      options:
      --proxy [http[s]://][user:password@]host[:port]  reach Azure through this proxy
      --proxy-user U --proxy-password P                the proxy's credential, when not in --proxy's URL
      --cloud public|usgov|china                       Azure cloud (default public)
      --authority-host URL                             Entra ID host (private clouds)
      --endpoint URL                                   with --workspace-id: replaces the service URL
      --config FILE                                    default ${DEFAULT_ONBOARD_CONFIG}
      --data-dir DIR                                   default ${DEFAULT_ONBOARD_DATA_DIR}
      --owner USER                                     owner of the secret files (default ${DEFAULT_SECRET_OWNER})
      --force                                          replace an existing config
      --no-restart                                     do not restart oma.service
      a secret given as - is read from standard input
`;

/** What `oma onboard` was asked to write: the destination and its credential, proxy and cloud. */
export type OnboardDestination =
  | { readonly kind: 'local' }
  | { readonly kind: 'data_collector'; readonly workspaceId: string; readonly sharedKey: string; readonly endpoint?: string }
  | {
      readonly kind: 'logs_ingestion';
      readonly endpoint: string;
      readonly dcrImmutableId: string;
      readonly streams: Readonly<Record<string, string>>;
      readonly auth: OnboardAuth;
    };

export type OnboardAuth =
  | { readonly type: 'client_secret'; readonly tenantId: string; readonly clientId: string; readonly clientSecret: string; readonly authorityHost?: string }
  | { readonly type: 'client_certificate'; readonly tenantId: string; readonly clientId: string; readonly certificateFile: string; readonly keyFile?: string; readonly authorityHost?: string }
  | { readonly type: 'managed_identity'; readonly clientId?: string }
  | { readonly type: 'azure_arc_managed_identity' };

export interface OnboardOptions {
  readonly configFile: string;
  readonly dataDir: string;
  readonly destination: OnboardDestination;
  readonly proxy?: string;
  readonly cloud: 'public' | 'usgov' | 'china';
  readonly force: boolean;
  readonly restart: boolean;
  /** User who owns the secret files (chown when running as root). */
  readonly owner: string;
}

/** How `oma onboard` reaches the system; replaced in tests. */
export interface OnboardSystem {
  /** True when systemd is the running init (it has /run/systemd/system). */
  systemdRunning(): boolean;
  /** Restarts the agent's service; throws on failure. */
  restartService(): void;
  /** uid and gid of a user, or undefined when there is no such user. */
  lookupUser(name: string): { uid: number; gid: number } | undefined;
  /** The effective uid of this process. */
  uid(): number;
}

export const realSystem: OnboardSystem = {
  systemdRunning: () => existsSync('/run/systemd/system'),
  restartService: () => {
    execFileSync('systemctl', ['restart', 'oma.service'], { stdio: ['ignore', 'ignore', 'pipe'] });
  },
  lookupUser: (name) => {
    try {
      const [, , uid, gid] = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':');
      return { uid: Number(uid), gid: Number(gid) };
    } catch {
      return undefined;
    }
  },
  uid: () => process.getuid?.() ?? -1,
};

/** Names of the secret files `oma onboard` writes into `secrets/` beside the config. */
const SECRET_FILES = ['shared-key', 'client-secret', 'proxy-password'] as const;
type SecretName = (typeof SECRET_FILES)[number];

const q = (s: string): string => JSON.stringify(s);

function proxyUrl(p: ProxySpec): string {
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  return `${p.protocol}//${host}:${p.port}`;
}

/**
 * The config text for `opts`, its secrets referenced as files in `secretDir`. Returns the text and the
 * secrets to write (name → value). The same options always give the same text, so that `--local`
 * gives the package's default config byte for byte.
 */
export function renderOnboardConfig(opts: Omit<OnboardOptions, 'force' | 'restart' | 'owner' | 'configFile'>, secretDir: string): { text: string; secrets: Map<SecretName, string> } {
  const secrets = new Map<SecretName, string>();
  const secretRef = (name: SecretName, value: string): string => {
    secrets.set(name, value);
    return `{ file: ${q(join(secretDir, name))} }`;
  };
  const d = opts.destination;
  const lines = [
    '# OMA agent config, written by `oma onboard`. Reference: configuration.md in the OMA documentation.',
    '# What is collected is under sources; where it goes, under destinations (`oma onboard --force` rewrites them).',
    `dataDir: ${q(opts.dataDir)}`,
    'log: { file: false }            # logs go to stderr: the journal when run by systemd',
    'statusIntervalMs: 0',
    'observability: { port: 9469 }  # /metrics and /healthz on 127.0.0.1',
    '',
    'sources:',
    '  heartbeat:',
    '    type: heartbeat',
    '',
    'destinations:',
  ];
  if (d.kind === 'local') {
    lines.push('  # The embedded local workspace: query it with `oma query` until a workspace is onboarded.', '  local:', '    type: local_workspace');
  } else if (d.kind === 'data_collector') {
    lines.push(
      '  azure:',
      '    type: azure_data_collector',
      `    workspaceId: ${q(d.workspaceId)}`,
      `    sharedKey: ${secretRef('shared-key', d.sharedKey)}`,
      ...(opts.cloud !== 'public' ? [`    cloud: ${opts.cloud}`] : []),
      ...(d.endpoint !== undefined ? [`    endpoint: ${q(d.endpoint)}`] : []),
    );
  } else {
    lines.push('  azure:', '    type: azure_logs_ingestion', `    endpoint: ${q(d.endpoint)}`, `    dcrImmutableId: ${q(d.dcrImmutableId)}`);
    const streams = Object.entries(d.streams);
    if (streams.length > 0) lines.push('    streams:', ...streams.map(([t, s]) => `      ${t}: ${q(s)}`));
    const a = d.auth;
    lines.push('    auth:', `      type: ${a.type}`);
    if (a.type === 'client_secret' || a.type === 'client_certificate') lines.push(`      tenantId: ${q(a.tenantId)}`, `      clientId: ${q(a.clientId)}`);
    if (a.type === 'client_secret') lines.push(`      clientSecret: ${secretRef('client-secret', a.clientSecret)}`);
    if (a.type === 'client_certificate') {
      lines.push(`      certificateFile: ${q(a.certificateFile)}`, ...(a.keyFile !== undefined ? [`      keyFile: ${q(a.keyFile)}`] : []));
    }
    if (a.type === 'managed_identity' && a.clientId !== undefined) lines.push(`      clientId: ${q(a.clientId)}`);
    if (opts.cloud !== 'public') lines.push(`      cloud: ${opts.cloud}`);
    if ((a.type === 'client_secret' || a.type === 'client_certificate') && a.authorityHost !== undefined) lines.push(`      authorityHost: ${q(a.authorityHost)}`);
  }
  if (opts.proxy !== undefined && d.kind !== 'local') {
    const p = parseProxyUrl(opts.proxy);
    const parts = [`url: ${q(proxyUrl(p))}`];
    if (p.username !== undefined) parts.push(`username: ${q(p.username)}`);
    if (p.password !== undefined) parts.push(`password: ${secretRef('proxy-password', p.password.reveal())}`);
    lines.push(`    proxy: { ${parts.join(', ')} }`);
  }
  lines.push('');
  return { text: lines.join('\n'), secrets };
}

/** The config `oma onboard --local` writes: the Linux package's default. An existing file with exactly this text is replaced without --force. */
export function defaultOnboardConfig(dataDir = DEFAULT_ONBOARD_DATA_DIR): string {
  return renderOnboardConfig({ dataDir, destination: { kind: 'local' }, cloud: 'public' }, '').text;
}

/** Files the config names that the agent reads itself: the certificate and key of a client_certificate credential. */
function filesTheAgentReads(d: OnboardDestination): string[] {
  if (d.kind !== 'logs_ingestion' || d.auth.type !== 'client_certificate') return [];
  return [d.auth.certificateFile, ...(d.auth.keyFile !== undefined ? [d.auth.keyFile] : [])];
}

/** Whether `user` may read `file` by its mode bits (owner, group, other; supplementary groups not counted). */
function readableBy(file: string, user: { uid: number; gid: number }): boolean {
  const st = statSync(file);
  if (st.uid === user.uid) return (st.mode & 0o400) !== 0;
  if (st.gid === user.gid) return (st.mode & 0o040) !== 0;
  return (st.mode & 0o004) !== 0;
}

/** Writes `file` whole with `mode` (and `owner`) set before its content is visible: a new file renamed over the old one. */
function writePrivate(file: string, text: string, mode: number, owner: { uid: number; gid: number } | undefined): void {
  const tmp = `${file}.new`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, '', { mode, flag: 'wx' });
  chmodSync(tmp, mode); // the umask may have taken bits away
  if (owner !== undefined) chownSync(tmp, owner.uid, owner.gid);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * `oma onboard`: writes the config (and its secret files) for a workspace, checks it with the code of
 * `oma validate`, then restarts oma.service when systemd runs. Exit codes: 0 written, 1 refused or
 * failed (an existing config without --force, a failed restart), 2 the result is not a valid config.
 */
export async function onboard(
  opts: OnboardOptions,
  loadPlatform: () => Promise<Platform>,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  system: OnboardSystem = realSystem,
): Promise<number> {
  const configFile = resolve(opts.configFile);
  const dir = dirname(configFile);
  const secretDir = join(dir, 'secrets');
  if (existsSync(configFile) && !opts.force && readFileSync(configFile, 'utf8') !== defaultOnboardConfig(opts.dataDir)) {
    err.write(`oma onboard: ${configFile} exists; --force replaces it\n`);
    return 1;
  }
  const asRoot = system.uid() === 0;
  const user = asRoot ? system.lookupUser(opts.owner) : undefined;

  // Everything is written and checked in a scratch directory first: a config that is not valid changes nothing.
  mkdirSync(dir, { recursive: true });
  const scratch = mkdtempSync(join(dir, '.onboard-'));
  try {
    const trial = renderOnboardConfig(opts, scratch);
    for (const [name, value] of trial.secrets) writePrivate(join(scratch, name), value, 0o600, undefined);
    const trialFile = join(scratch, 'oma.yaml');
    writeFileSync(trialFile, trial.text);
    // Its "valid" line would name the scratch file: only the problems are printed.
    const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
    const checked = await validateConfig(trialFile, await loadPlatform(), quiet, err, { offline: true });
    if (checked !== 0) {
      err.write(`oma onboard: the config would not be valid; ${configFile} is unchanged\n`);
      return checked;
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const final = renderOnboardConfig(opts, secretDir);
  if (asRoot && user === undefined && final.secrets.size > 0) err.write(`oma onboard: there is no user ${opts.owner}: the secret files stay root's\n`);
  if (final.secrets.size > 0) {
    mkdirSync(secretDir, { recursive: true, mode: 0o750 });
    chmodSync(secretDir, 0o750);
    if (user !== undefined) chownSync(secretDir, 0, user.gid);
  }
  for (const name of SECRET_FILES) {
    const file = join(secretDir, name);
    const value = final.secrets.get(name);
    if (value !== undefined) writePrivate(file, `${value}\n`, 0o600, user);
    else rmSync(file, { force: true });
  }
  writePrivate(configFile, final.text, 0o640, user === undefined ? undefined : { uid: 0, gid: user.gid });
  out.write(`${configFile}: written${final.secrets.size > 0 ? ` (secrets in ${secretDir}, mode 0600${user ? `, owner ${opts.owner}` : ''})` : ''}\n`);

  for (const file of filesTheAgentReads(opts.destination)) {
    if (user !== undefined && !readableBy(file, user)) {
      err.write(`oma onboard: warning: ${opts.owner} cannot read ${file}; the agent runs as ${opts.owner} (e.g. chgrp ${opts.owner} ${file} && chmod 0640 ${file})\n`);
    }
  }
  if (opts.restart && !system.systemdRunning()) out.write('systemd is not running: restart the agent to use the new config\n');
  if (opts.restart && system.systemdRunning()) {
    try {
      system.restartService();
      out.write('oma.service restarted\n');
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
      err.write(`oma onboard: restarting oma.service failed${stderr ? `: ${stderr}` : ''}\n`);
      return 1;
    }
  }
  return 0;
}

class OnboardUsageError extends Error {}

/** Reads a secret given as `-` from standard input (its first line). */
function secretArg(value: string | undefined, stdin: () => string): string | undefined {
  if (value !== '-') return value;
  const line = stdin().split(/\r?\n/)[0] ?? '';
  if (line === '') throw new OnboardUsageError('oma onboard: the secret read from standard input is empty');
  return line;
}

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new OnboardUsageError(`oma onboard: ${what} is required`);
  return value;
}

/** Parses `oma onboard` arguments into options; throws OnboardUsageError for a bad combination. */
export function parseOnboardArgs(argv: readonly string[], stdin: () => string = () => readFileSync(0, 'utf8')): OnboardOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'workspace-id': { type: 'string', short: 'w' },
      'shared-key': { type: 'string', short: 's' },
      endpoint: { type: 'string' },
      dce: { type: 'string' },
      'dcr-id': { type: 'string' },
      stream: { type: 'string', multiple: true, default: [] },
      'tenant-id': { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      certificate: { type: 'string' },
      'key-file': { type: 'string' },
      'managed-identity': { type: 'boolean', default: false },
      arc: { type: 'boolean', default: false },
      'authority-host': { type: 'string' },
      local: { type: 'boolean', default: false },
      proxy: { type: 'string', short: 'p' },
      'proxy-user': { type: 'string' },
      'proxy-password': { type: 'string' },
      cloud: { type: 'string', default: 'public' },
      config: { type: 'string', short: 'c', default: DEFAULT_ONBOARD_CONFIG },
      'data-dir': { type: 'string', default: DEFAULT_ONBOARD_DATA_DIR },
      owner: { type: 'string', default: DEFAULT_SECRET_OWNER },
      force: { type: 'boolean', default: false },
      'no-restart': { type: 'boolean', default: false },
    },
  });
  const cloud = values.cloud;
  if (cloud !== 'public' && cloud !== 'usgov' && cloud !== 'china') throw new OnboardUsageError('oma onboard: --cloud takes public, usgov or china');
  const modes = [values['workspace-id'] !== undefined, values.dce !== undefined, values.local].filter(Boolean).length;
  if (modes !== 1) throw new OnboardUsageError('oma onboard: give one of --workspace-id (with --shared-key), --dce (with --dcr-id and a credential) or --local');

  // Options of one mode given with another are mistakes, not something to ignore.
  const dceOnly: Record<string, unknown> = {
    'dcr-id': values['dcr-id'],
    stream: values.stream.length > 0 ? true : undefined,
    'tenant-id': values['tenant-id'],
    'client-id': values['client-id'],
    'client-secret': values['client-secret'],
    certificate: values.certificate,
    'key-file': values['key-file'],
    'managed-identity': values['managed-identity'] || undefined,
    arc: values.arc || undefined,
    'authority-host': values['authority-host'],
  };
  const misplaced = [
    ...(values.dce === undefined ? Object.entries(dceOnly).filter(([, v]) => v !== undefined).map(([k]) => `--${k} goes with --dce`) : []),
    ...(values['workspace-id'] === undefined ? [values['shared-key'] !== undefined ? '--shared-key goes with --workspace-id' : '', values.endpoint !== undefined ? '--endpoint goes with --workspace-id' : ''] : []),
    ...(values.local && values.proxy !== undefined ? ['--proxy does not go with --local'] : []),
  ].filter(Boolean);
  if (misplaced.length > 0) throw new OnboardUsageError(`oma onboard: ${misplaced.join('; ')}`);

  let destination: OnboardDestination;
  if (values.local) {
    destination = { kind: 'local' };
  } else if (values['workspace-id'] !== undefined) {
    destination = {
      kind: 'data_collector',
      workspaceId: values['workspace-id'],
      sharedKey: need(secretArg(values['shared-key'], stdin), '--shared-key'),
      ...(values.endpoint !== undefined ? { endpoint: values.endpoint } : {}),
    };
  } else {
    const streams: Record<string, string> = {};
    for (const s of values.stream) {
      const eq = s.indexOf('=');
      if (eq <= 0 || eq === s.length - 1) throw new OnboardUsageError(`oma onboard: --stream takes TABLE=STREAM (got "${s}")`);
      streams[s.slice(0, eq)] = s.slice(eq + 1);
    }
    const credentials = [values['client-secret'] !== undefined, values.certificate !== undefined, values['managed-identity'], values.arc].filter(Boolean).length;
    if (credentials !== 1) throw new OnboardUsageError('oma onboard: with --dce give one credential: --client-secret, --certificate, --managed-identity or --arc');
    const authorityHost = values['authority-host'] !== undefined ? { authorityHost: values['authority-host'] } : {};
    let auth: OnboardAuth;
    if (values['client-secret'] !== undefined) {
      auth = {
        type: 'client_secret',
        tenantId: need(values['tenant-id'], '--tenant-id'),
        clientId: need(values['client-id'], '--client-id'),
        clientSecret: need(secretArg(values['client-secret'], stdin), '--client-secret'),
        ...authorityHost,
      };
    } else if (values.certificate !== undefined) {
      auth = {
        type: 'client_certificate',
        tenantId: need(values['tenant-id'], '--tenant-id'),
        clientId: need(values['client-id'], '--client-id'),
        certificateFile: resolve(values.certificate),
        ...(values['key-file'] !== undefined ? { keyFile: resolve(values['key-file']) } : {}),
        ...authorityHost,
      };
    } else if (values['managed-identity']) {
      auth = { type: 'managed_identity', ...(values['client-id'] !== undefined ? { clientId: values['client-id'] } : {}) };
    } else {
      auth = { type: 'azure_arc_managed_identity' };
    }
    destination = { kind: 'logs_ingestion', endpoint: values.dce!, dcrImmutableId: need(values['dcr-id'], '--dcr-id'), streams, auth };
  }
  let proxy = values.proxy;
  if (proxy !== undefined) {
    let spec: ProxySpec;
    try {
      spec = parseProxyUrl(proxy);
    } catch (e) {
      throw new OnboardUsageError(`oma onboard: --proxy: ${(e as Error).message}`);
    }
    // The credential as separate options (an installer's properties): percent-encoded into the URL.
    const user = values['proxy-user'];
    const password = secretArg(values['proxy-password'], stdin);
    if (password !== undefined && user === undefined) throw new OnboardUsageError('oma onboard: --proxy-password goes with --proxy-user');
    if (user !== undefined) {
      if (spec.username !== undefined) throw new OnboardUsageError('oma onboard: give the proxy credential in --proxy or with --proxy-user, not both');
      const credential = `${encodeURIComponent(user)}${password !== undefined ? `:${encodeURIComponent(password)}` : ''}`;
      proxy = `${spec.protocol}//${credential}@${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`;
    }
  } else if (values['proxy-user'] !== undefined || values['proxy-password'] !== undefined) {
    throw new OnboardUsageError('oma onboard: --proxy-user and --proxy-password go with --proxy');
  }
  return {
    configFile: values.config,
    dataDir: values['data-dir'],
    destination,
    ...(proxy !== undefined ? { proxy } : {}),
    cloud,
    force: values.force,
    restart: !values['no-restart'],
    owner: values.owner,
  };
}

/** `oma onboard ARGS`: usage errors exit 2 with the usage. */
export async function runOnboard(argv: readonly string[], loadPlatform: () => Promise<Platform>, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let opts: OnboardOptions;
  try {
    opts = parseOnboardArgs(argv);
  } catch (e) {
    if (e instanceof OnboardUsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err.write(`${(e as Error).message}\n\n${ONBOARD_USAGE}`);
      return 2;
    }
    throw e;
  }
  return onboard(opts, loadPlatform, out, err);
}
