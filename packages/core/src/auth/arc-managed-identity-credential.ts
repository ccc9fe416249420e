import { open, realpath } from 'node:fs/promises';
import { posix, win32 } from 'node:path';
import { headerValue } from '../http/retry-after.js';
import { CachedTokenCredential } from './cached-token-credential.js';
import type { AccessToken } from './credential.js';
import { AuthError } from './errors.js';
import { ManagedIdentityClient, type ManagedIdentityOptions } from './managed-identity-request.js';
import type { TokenHttpResponse } from './token-endpoint.js';
import { HOST_OS } from '../platform/host-os.js';

/** Token endpoint of the Azure Connected Machine agent when `IDENTITY_ENDPOINT` is not set (docs/protocol-notes.md#arc). */
export const ARC_IDENTITY_ENDPOINT = 'http://localhost:40342/metadata/identity/oauth2/token';
export const ARC_API_VERSION = '2020-06-01';
/** Largest challenge key file read (the Azure SDKs use the same bound). */
export const ARC_MAX_KEY_FILE_BYTES = 4096;

/**
 * Directory the Arc agent writes challenge key files to: `/var/opt/azcmagent/tokens` on Linux,
 * `%ProgramData%\AzureConnectedMachineAgent\Tokens` on Windows; undefined on other platforms.
 */
export function defaultArcKeyDirectory(platform: NodeJS.Platform, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (platform === 'linux') return '/var/opt/azcmagent/tokens';
  if (platform === 'win32') return win32.join(env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData', 'AzureConnectedMachineAgent', 'Tokens');
  return undefined;
}

export interface ArcManagedIdentityCredentialOptions extends ManagedIdentityOptions {
  /** Where challenge key files must be; default `defaultArcKeyDirectory(platform)`. */
  readonly keyDirectory?: string;
  /** Path rules to apply; default the running platform. */
  readonly platform?: NodeJS.Platform;
}

/** The realm of a `WWW-Authenticate: Basic realm=<path>` challenge (quotes optional). */
export function parseBasicRealm(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^\s*Basic\s+realm\s*=\s*(?:"([^"]*)"|(.+?))\s*$/i.exec(header);
  const realm = m?.[1] ?? m?.[2];
  return realm === undefined || realm === '' ? undefined : realm;
}

/**
 * Checks the key file a challenge names before anything reads it, like the Azure SDKs do: an absolute
 * path inside `keyDirectory` (also after resolving symbolic links), ending in `.key`, a regular file of at
 * most 4096 bytes. Returns its contents. Throws an AuthError otherwise.
 */
export async function readArcChallengeKey(realm: string, keyDirectory: string, platform: NodeJS.Platform): Promise<string> {
  const path = platform === 'win32' ? win32 : posix;
  const norm = (p: string): string => (platform === 'win32' ? p.toLowerCase() : p);
  const inside = (dir: string, file: string): boolean => {
    const rel = path.relative(norm(dir), norm(file));
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  };
  const shown = realm.slice(0, 300);
  if (!path.isAbsolute(realm) || !inside(path.resolve(keyDirectory), path.resolve(realm))) {
    throw new AuthError(`Azure Arc challenge names a key file outside ${keyDirectory}: ${shown}; refusing to read it`);
  }
  if (path.extname(realm).toLowerCase() !== '.key') {
    throw new AuthError(`Azure Arc challenge names a file that is not a .key file: ${shown}; refusing to read it`);
  }
  let content: Buffer;
  try {
    const [realDir, realFile] = await Promise.all([realpath(keyDirectory), realpath(realm)]);
    if (!inside(realDir, realFile)) throw new AuthError(`Azure Arc key file ${shown} resolves outside ${keyDirectory}; refusing to read it`);
    const fh = await open(realFile, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new AuthError(`Azure Arc key file ${shown} is not a regular file`);
      if (st.size > ARC_MAX_KEY_FILE_BYTES) {
        throw new AuthError(`Azure Arc key file ${shown} is ${st.size} bytes, more than ${ARC_MAX_KEY_FILE_BYTES}; refusing to read it`);
      }
      content = await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof AuthError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    const hint = code === 'EACCES' || code === 'EPERM' ? ' (the agent must run as root/Administrator or in the himds group)' : '';
    throw new AuthError(`cannot read Azure Arc key file ${shown}: ${code}${hint}`, { cause: err });
  }
  const key = content.subarray(0, ARC_MAX_KEY_FILE_BYTES).toString('utf8').trim();
  if (key === '' || /[\r\n]/.test(key)) throw new AuthError(`Azure Arc key file ${shown} does not hold a single-line key`);
  return key;
}

/**
 * The system-assigned identity of an Azure Arc-enabled server (docs/protocol-notes.md#arc): GET the agent's token
 * endpoint with `Metadata: true`; it answers 401 with `WWW-Authenticate: Basic realm=<key file>`; the
 * file is checked (see `readArcChallengeKey`) and read, and the GET repeated with `Authorization: Basic
 * <key>`. Never proxied; 429 and 5xx are retried like IMDS answers.
 */
export class ArcManagedIdentityCredential extends CachedTokenCredential<ManagedIdentityClient> {
  private readonly platform: NodeJS.Platform;
  private readonly keyDirectory: string | undefined;

  constructor(private readonly opts: ArcManagedIdentityCredentialOptions) {
    super(new ManagedIdentityClient({ ...opts, url: new URL(opts.endpoint ?? ARC_IDENTITY_ENDPOINT), source: 'Azure Arc identity endpoint' }), opts);
    this.platform = opts.platform ?? HOST_OS;
    this.keyDirectory = opts.keyDirectory ?? defaultArcKeyDirectory(this.platform, process.env);
  }

  protected fetchToken(signal: AbortSignal): Promise<AccessToken> {
    return this.client.token((s) => this.exchange(s), (status) => status === 429 || (status >= 500 && status <= 599), signal);
  }

  /** The challenge round trip: an unauthenticated GET, then the GET with the key the challenge points to. */
  private async exchange(signal: AbortSignal): Promise<TokenHttpResponse> {
    const query = new URLSearchParams({ 'api-version': ARC_API_VERSION, resource: this.opts.resource });
    const first = await this.client.get(query, {}, signal);
    if (first.status !== 401) return first;
    const realm = parseBasicRealm(headerValue(first.headers, 'www-authenticate'));
    if (realm === undefined) {
      throw new AuthError('Azure Arc identity endpoint answered 401 without a "Basic realm=<key file>" challenge', { status: 401 });
    }
    if (this.keyDirectory === undefined) {
      throw new AuthError(`Azure Arc managed identity is supported on Linux and Windows only (platform ${this.platform})`);
    }
    const key = await readArcChallengeKey(realm, this.keyDirectory, this.platform);
    return this.client.get(query, { authorization: `Basic ${key}` }, signal);
  }
}
