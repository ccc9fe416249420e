import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigIssue } from '@oma/core';
import type { LocalWorkspaceClient, LocalWorkspaceManagedIdentity } from '../workspace.js';
import { JtiCache, parseRegisteredCertificates, type RegisteredCertificate } from './client-assertion.js';
import { guidFor } from './token-issuer.js';

/** How a client proves itself to the token endpoint: a secret, certificates, or both. */
export interface RegisteredClient {
  readonly secret?: string;
  readonly certificates: readonly RegisteredCertificate[];
}

/** A managed identity the IMDS and Arc endpoints can issue tokens for. */
export interface ManagedIdentityRecord {
  readonly kind: 'system' | 'user';
  readonly clientId: string;
  readonly objectId: string;
  readonly resourceId?: string;
}

function pemList(pem: string | readonly string[] | undefined): readonly string[] {
  return pem === undefined ? [] : typeof pem === 'string' ? [pem] : pem;
}

/** Checks the `clients` option: ids, and a secret or parseable certificates for each. */
export function checkClients(clients: readonly LocalWorkspaceClient[] | undefined): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const ids = new Set<string>();
  (clients ?? []).forEach((c, i) => {
    const at = `clients[${i}]`;
    if (typeof c.clientId !== 'string' || c.clientId === '') issues.push({ path: `${at}.clientId`, message: 'required' });
    if (c.clientSecret !== undefined && (typeof c.clientSecret !== 'string' || c.clientSecret === '')) {
      issues.push({ path: `${at}.clientSecret`, message: 'must be a non-empty string' });
    }
    const pems = pemList(c.certificatePem);
    if (c.clientSecret === undefined && pems.length === 0) issues.push({ path: at, message: 'needs clientSecret or certificatePem' });
    pems.forEach((pem, j) => {
      try {
        parseRegisteredCertificates(pem);
      } catch (err) {
        issues.push({ path: `${at}.certificatePem${typeof c.certificatePem === 'string' ? '' : `[${j}]`}`, message: `not a PEM certificate: ${(err as Error).message}` });
      }
    });
    if (ids.has(c.clientId)) issues.push({ path: `${at}.clientId`, message: `duplicate client ${c.clientId}` });
    ids.add(c.clientId);
  });
  return issues;
}

/** Client id -> how it authenticates. Call after `checkClients`. */
export function registerClients(clients: readonly LocalWorkspaceClient[]): Map<string, RegisteredClient> {
  return new Map(
    clients.map((c) => [
      c.clientId,
      { ...(c.clientSecret === undefined ? {} : { secret: c.clientSecret }), certificates: pemList(c.certificatePem).flatMap(parseRegisteredCertificates) },
    ]),
  );
}

/** Checks the `managedIdentities` option. */
export function checkManagedIdentities(identities: readonly LocalWorkspaceManagedIdentity[] | undefined): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  (identities ?? []).forEach((m, i) => {
    const at = `managedIdentities[${i}]`;
    if (typeof m.clientId !== 'string' || m.clientId === '') issues.push({ path: `${at}.clientId`, message: 'required' });
    if (m.objectId !== undefined && (typeof m.objectId !== 'string' || m.objectId === '')) issues.push({ path: `${at}.objectId`, message: 'must be a non-empty string' });
    if (m.resourceId !== undefined && (typeof m.resourceId !== 'string' || m.resourceId === '')) {
      issues.push({ path: `${at}.resourceId`, message: 'must be a non-empty string' });
    }
    for (const id of [m.clientId, m.objectId, m.resourceId?.toLowerCase()]) {
      if (id === undefined) continue;
      if (seen.has(id)) issues.push({ path: at, message: `identifier ${id} is used twice` });
      seen.add(id);
    }
  });
  return issues;
}

/** Key files of pending Azure Arc challenges: each key is accepted once, within a few minutes. */
export class ArcChallenges {
  readonly #pending = new Map<string, { path: string; expiresAtMs: number }>();

  constructor(
    /** Directory the key files are written to (`<dataDir>/arc-tokens`). */
    readonly directory: string,
    private readonly now: () => number,
    private readonly lifetimeMs = 300_000,
    private readonly max = 1000,
  ) {}

  /** Writes a fresh random key to `<directory>/<random>.key` (mode 600) and returns the file's path. */
  issue(): string {
    this.#prune();
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    const key = randomBytes(32).toString('hex');
    const path = join(this.directory, `${randomUUID()}.key`);
    writeFileSync(path, key, { mode: 0o600 });
    this.#pending.set(key, { path, expiresAtMs: this.now() + this.lifetimeMs });
    return path;
  }

  /** True once for the key of a pending challenge; removes its file. */
  redeem(key: string): boolean {
    const entry = this.#pending.get(key);
    if (!entry) return false;
    this.#drop(key, entry.path);
    return entry.expiresAtMs >= this.now();
  }

  /** Removes every pending key file. */
  clear(): void {
    for (const [key, e] of this.#pending) this.#drop(key, e.path);
  }

  #prune(): void {
    const now = this.now();
    for (const [key, e] of this.#pending) if (e.expiresAtMs < now) this.#drop(key, e.path);
    for (const [key, e] of this.#pending) {
      if (this.#pending.size < this.max) break;
      this.#drop(key, e.path);
    }
  }

  #drop(key: string, path: string): void {
    this.#pending.delete(key);
    rmSync(path, { force: true });
  }
}

/** What the certificate, IMDS and Arc flows share (ServerContext.identity). */
export interface IdentityContext {
  readonly managedIdentities: readonly ManagedIdentityRecord[];
  /** The VM's system-assigned identity; IMDS answers "Identity not found" without one. */
  readonly systemAssigned: ManagedIdentityRecord | undefined;
  /** The Arc machine's identity (the system-assigned one, or a derived one when none is configured). */
  readonly arcIdentity: ManagedIdentityRecord;
  /** `jti` of accepted client assertions. */
  readonly jtis: JtiCache;
  /** Clock skew allowed on assertion `nbf`/`exp`, seconds. */
  readonly skewSec: number;
  readonly arc: ArcChallenges;
}

export interface IdentityContextOptions {
  readonly tenantId: string;
  readonly dataDir: string;
  readonly managedIdentities?: readonly LocalWorkspaceManagedIdentity[];
  readonly systemAssigned?: boolean | { readonly clientId: string; readonly objectId?: string };
  readonly skewSec: number;
  readonly now: () => number;
  /** Pending Arc key files are removed when this aborts. */
  readonly closing: AbortSignal;
}

export function createIdentityContext(opts: IdentityContextOptions): IdentityContext {
  const sys = opts.systemAssigned;
  const systemRecord = (clientId: string, objectId?: string): ManagedIdentityRecord => ({
    kind: 'system',
    clientId,
    objectId: objectId ?? guidFor(`oid:${clientId}`),
  });
  const derivedClientId = guidFor(`system-assigned:${opts.tenantId}`);
  const systemAssigned = sys === undefined || sys === false ? undefined : sys === true ? systemRecord(derivedClientId) : systemRecord(sys.clientId, sys.objectId);
  const arc = new ArcChallenges(join(opts.dataDir, 'arc-tokens'), opts.now);
  opts.closing.addEventListener('abort', () => arc.clear(), { once: true });
  return {
    managedIdentities: (opts.managedIdentities ?? []).map((m) => ({
      kind: 'user',
      clientId: m.clientId,
      objectId: m.objectId ?? guidFor(`oid:${m.clientId}`),
      ...(m.resourceId === undefined ? {} : { resourceId: m.resourceId }),
    })),
    systemAssigned,
    arcIdentity: systemAssigned ?? systemRecord(derivedClientId),
    jtis: new JtiCache(),
    skewSec: opts.skewSec,
    arc,
  };
}
