import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIPv4, isIPv6, type AddressInfo, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { renameSync } from 'node:fs';
import { ConfigError, RateLimitedLog, silentLogger, type ConfigIssue, type Logger } from '@oma/core';
import { issueAccessToken } from './auth/token-issuer.js';
import { checkClients, checkManagedIdentities, createIdentityContext, registerClients } from './auth/identities.js';
import { BearerVerifier } from './auth/verify.js';
import {
  DATABASE_FILE,
  QUERY_TOKEN_FILE,
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  DEFAULT_MAX_INFLATED_BODY_BYTES,
  DEFAULT_TENANT_ID,
  MAX_INGEST_BODY_BYTES,
  MONITOR_AUDIENCE,
} from './constants.js';
import { checkDcrs, defaultDcr, type LocalDcr } from './dcr.js';
import { readEndpointFile, removeEndpointFile, writeEndpointFile } from './endpoint-file.js';
import { FaultInjector } from './faults.js';
import { ConnectionGuard } from './http/connections.js';
import { Exchange } from './http/exchange.js';
import { LOGGED_HEADERS, RequestLog } from './request-log.js';
import { handleAdmin, isLoopbackAddress } from './routes/admin.js';
import type { RequestState, ServerContext } from './routes/context.js';
import { reject } from './routes/context.js';
import { handleIngest } from './routes/ingest.js';
import { checkDataCollectorOptions, dataCollectorSettings, handleDataCollector, type LocalDataCollectorOptions } from './routes/data-collector.js';
import { handleListTables, handleQuery } from './routes/query.js';
import { handleArc, handleImds } from './routes/managed-identity.js';
import { handleJwks, handleOpenIdConfiguration } from './routes/discovery.js';
import { handleToken } from './routes/token.js';
import { ensureWorkspaceTls } from './tls.js';
import { WorkspaceStore, type StoredColumn } from './store/workspace-store.js';

/**
 * A client the token endpoint accepts: with a secret, and/or with certificates (PEM, like a certificate
 * uploaded to an app registration) whose client assertions it verifies.
 */
export type LocalWorkspaceClient =
  | { readonly clientId: string; readonly clientSecret: string; readonly certificatePem?: string | readonly string[] }
  | { readonly clientId: string; readonly clientSecret?: string; readonly certificatePem: string | readonly string[] };

/** A user-assigned managed identity the IMDS endpoint serves; `objectId` defaults to one derived from `clientId`. */
export interface LocalWorkspaceManagedIdentity {
  readonly clientId: string;
  readonly objectId?: string;
  /** ARM id, matched (case-insensitively) by `msi_res_id`. */
  readonly resourceId?: string;
}

export interface LocalWorkspaceOptions {
  /** Directory holding `workspace.db` (SQLite, WAL mode) and `endpoint.json`; created if missing. */
  readonly dataDir: string;
  /** Listen address; default 127.0.0.1. Non-loopback addresses are refused unless `allowNonLoopback`. */
  readonly host?: string;
  /** Listen port; default 0 (any free port). */
  readonly port?: number;
  /** Accept a non-loopback `host` (use with `tls`, and with care: the workspace's clients are for development). */
  readonly allowNonLoopback?: boolean;
  /**
   * Serve HTTPS with a CA and server certificate generated into `<dataDir>/tls` on first use and reused
   * afterwards (`caFile` names the CA clients must trust). Needed by clients that refuse an http authority,
   * such as `@azure/identity`. Default false.
   */
  readonly tls?: boolean;
  /** Tenant of the token endpoint; default `00000000-0000-0000-0000-00000000a11a`. */
  readonly tenantId?: string;
  /** Clients the token endpoint accepts; default one client, DEFAULT_CLIENT_ID / DEFAULT_CLIENT_SECRET. */
  readonly clients?: readonly LocalWorkspaceClient[];
  /** Data collection rules; default `[defaultDcr()]`. */
  readonly dcrs?: readonly LocalDcr[];
  /** Lifetime of issued tokens, seconds; default 3600. */
  readonly tokenLifetimeSec?: number;
  /** Clock skew allowed when checking `nbf`/`exp`, seconds; default 60. */
  readonly tokenClockSkewSec?: number;
  readonly log?: Logger;
  /** Keep at most this many rows per table (oldest pruned). */
  readonly retentionRows?: number;
  /** Keep the database near this size (oldest rows of the largest table pruned). */
  readonly maxDbBytes?: number;
  /** Requests kept in the in-memory request log; default 1000. */
  readonly requestLogSize?: number;
  /**
   * Concurrent connections; default 256. At the cap a new connection takes the place of the one that has
   * waited longest without a complete request (see ConnectionGuard), so stalled clients cannot lock others out.
   */
  readonly maxConnections?: number;
  /** Time a client has to send a request's headers, ms; default 30,000. */
  readonly headersTimeoutMs?: number;
  /** Time a client has to send a whole request (headers and body), ms; default 60,000. */
  readonly requestTimeoutMs?: number;
  /**
   * Cap on a gzip ingestion body once inflated, bytes; default 50 MiB. The wire body's cap is 1,048,576 bytes
   * (MAX_INGEST_BODY_BYTES), as the service's.
   */
  readonly maxInflatedBodyBytes?: number;
  /** Enables the HTTP Data Collector API (`POST /api/logs`) for this workspace id and key. */
  readonly dataCollector?: LocalDataCollectorOptions;
  /** User-assigned identities of the IMDS endpoint (`GET /metadata/identity/oauth2/token`); default none. */
  readonly managedIdentities?: readonly LocalWorkspaceManagedIdentity[];
  /** Gives the IMDS endpoint a system-assigned identity (true: a client id derived from the tenant); default none. */
  readonly systemAssigned?: boolean | { readonly clientId: string; readonly objectId?: string };
}

export interface IssueTokenOverrides {
  readonly clientId?: string;
  /** Issue time (epoch ms); default now. An earlier time with a short lifetime gives an expired token. */
  readonly nowMs?: number;
  readonly lifetimeSec?: number;
  readonly audience?: string;
}

const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_CONNECTIONS = 256;
const CLOSE_GRACE_MS = 2_000;

/** Data directories of the workspaces running in this process. */
const openDataDirs = new Set<string>();

function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIPv6(host)) return isLoopbackAddress(host) || host === '0:0:0:0:0:0:0:1';
  return false;
}

function fileExists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/** Creates `file` empty with mode 600 if it does not exist, and makes an existing one mode 600. */
function ensurePrivateFile(file: string): void {
  writeFileSync(file, '', { flag: 'a', mode: 0o600 });
  chmodSync(file, 0o600);
}

/** A random secret written to `<dataDir>/query-token` (mode 600) at each start; `oma query` sends it. */
function writeQueryToken(dataDir: string): string {
  const token = randomBytes(32).toString('base64url');
  const file = join(dataDir, QUERY_TOKEN_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${token}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return token;
}

function checkOptions(opts: LocalWorkspaceOptions, dcrs: readonly LocalDcr[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (typeof opts.dataDir !== 'string' || opts.dataDir === '') issues.push({ path: 'dataDir', message: 'required' });
  const host = opts.host ?? '127.0.0.1';
  if (!opts.allowNonLoopback && !isLoopbackHost(host)) {
    issues.push({ path: 'host', message: `${host} is not a loopback address; set allowNonLoopback to listen on it` });
  }
  if (opts.port !== undefined && !isInt(opts.port, 0, 65535)) issues.push({ path: 'port', message: 'must be an integer in 0..65535' });
  if (opts.tenantId !== undefined && !/^[A-Za-z0-9.-]{1,100}$/.test(opts.tenantId)) {
    issues.push({ path: 'tenantId', message: 'must be a GUID or domain-like name' });
  }
  if (opts.tokenLifetimeSec !== undefined && !isInt(opts.tokenLifetimeSec, 1, 86_400)) {
    issues.push({ path: 'tokenLifetimeSec', message: 'must be an integer in 1..86400' });
  }
  if (opts.tokenClockSkewSec !== undefined && !isInt(opts.tokenClockSkewSec, 0, 3600)) {
    issues.push({ path: 'tokenClockSkewSec', message: 'must be an integer in 0..3600' });
  }
  if (opts.retentionRows !== undefined && !isInt(opts.retentionRows, 1, Number.MAX_SAFE_INTEGER)) {
    issues.push({ path: 'retentionRows', message: 'must be a positive integer' });
  }
  if (opts.maxDbBytes !== undefined && !isInt(opts.maxDbBytes, 65_536, Number.MAX_SAFE_INTEGER)) {
    issues.push({ path: 'maxDbBytes', message: 'must be an integer of at least 65536' });
  }
  if (opts.requestLogSize !== undefined && !isInt(opts.requestLogSize, 0, 1_000_000)) {
    issues.push({ path: 'requestLogSize', message: 'must be an integer in 0..1000000' });
  }
  if (opts.maxConnections !== undefined && !isInt(opts.maxConnections, 1, 100_000)) {
    issues.push({ path: 'maxConnections', message: 'must be an integer in 1..100000' });
  }
  if (opts.maxInflatedBodyBytes !== undefined && !isInt(opts.maxInflatedBodyBytes, MAX_INGEST_BODY_BYTES, 1024 * 1024 * 1024)) {
    issues.push({ path: 'maxInflatedBodyBytes', message: `must be an integer in ${MAX_INGEST_BODY_BYTES}..1073741824` });
  }
  if (opts.requestTimeoutMs !== undefined && !isInt(opts.requestTimeoutMs, 100, 3_600_000)) {
    issues.push({ path: 'requestTimeoutMs', message: 'must be an integer in 100..3600000' });
  }
  if (opts.headersTimeoutMs !== undefined && !isInt(opts.headersTimeoutMs, 100, 3_600_000)) {
    issues.push({ path: 'headersTimeoutMs', message: 'must be an integer in 100..3600000' });
  } else if ((opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS) > (opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS)) {
    issues.push({ path: 'headersTimeoutMs', message: 'must not be longer than requestTimeoutMs' });
  }
  issues.push(...checkClients(opts.clients), ...checkManagedIdentities(opts.managedIdentities));
  issues.push(...checkDataCollectorOptions(opts.dataCollector));
  if (dcrs.length === 0) issues.push({ path: 'dcrs', message: 'at least one DCR is required' });
  issues.push(...checkDcrs(dcrs));
  return issues;
}

function declaredTables(dcrs: readonly LocalDcr[]): Map<string, StoredColumn[]> {
  const tables = new Map<string, StoredColumn[]>();
  for (const dcr of dcrs) {
    for (const stream of Object.values(dcr.streams)) {
      let cols = tables.get(stream.table);
      if (!cols) tables.set(stream.table, (cols = [{ name: 'TimeGenerated', type: 'datetime' }]));
      for (const c of stream.columns) if (!cols.some((x) => x.name === c.name)) cols.push({ name: c.name, type: c.type });
    }
  }
  return tables;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolvePromise, rejectPromise) => {
    const onError = (err: Error): void => rejectPromise(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolvePromise(server.address() as AddressInfo);
    });
  });
}

function decodeSegments(pathname: string): string[] | undefined {
  try {
    return pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

/**
 * A loopback HTTP server that speaks the Logs Ingestion API and an Entra ID-shaped token endpoint, and
 * stores received rows in SQLite, so the agent runs end to end with no cloud account. Also serves a query
 * API (`oma query`), fault injection and a request log for tests, and `GET /healthz`.
 */
export class LocalWorkspace {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Authority base: POST `{authority}/{tenantId}/oauth2/v2.0/token` (the same server as `url`). */
  readonly authority: string;
  readonly tenantId: string;
  readonly dataDir: string;
  /** Immutable id of the first DCR (the default DCR unless `dcrs` were given). */
  readonly dcrImmutableId: string;
  readonly dcrs: readonly LocalDcr[];
  readonly clients: readonly LocalWorkspaceClient[];
  readonly store: WorkspaceStore;
  readonly faults: FaultInjector;
  /** The last requests to the ingestion and token routes, for tests. */
  readonly requests: RequestLog;
  /** With `tls`: the PEM file of the CA that issued the server certificate, for clients to trust. */
  readonly caFile?: string;
  /** The secret `/query` accepts as a bearer token (also in `<dataDir>/query-token`). */
  readonly queryToken: string;

  readonly #server: Server;
  readonly #ctx: ServerContext;
  readonly #log: Logger;
  readonly #closing: AbortController;
  readonly #inflight = new Set<Promise<void>>();
  #closed: Promise<void> | undefined;

  private constructor(init: {
    url: string;
    dataDir: string;
    dcrs: readonly LocalDcr[];
    clients: readonly LocalWorkspaceClient[];
    server: Server;
    ctx: ServerContext;
    closing: AbortController;
    caFile?: string;
  }) {
    this.url = init.url;
    if (init.caFile !== undefined) this.caFile = init.caFile;
    this.queryToken = init.ctx.queryToken;
    this.authority = init.url;
    this.tenantId = init.ctx.tenantId;
    this.dataDir = init.dataDir;
    this.dcrs = init.dcrs;
    this.dcrImmutableId = init.dcrs[0]!.immutableId;
    this.clients = init.clients;
    this.store = init.ctx.store;
    this.faults = init.ctx.faults;
    this.requests = init.ctx.requests;
    this.#server = init.server;
    this.#ctx = init.ctx;
    this.#log = init.ctx.log;
    this.#closing = init.closing;
  }

  /**
   * Validates options, opens the store, listens and writes `<dataDir>/endpoint.json`. Throws ConfigError
   * for bad options, a data directory in use by a running workspace, or DCR columns that conflict with
   * stored tables; rejects with the listen error (e.g. EADDRINUSE).
   */
  static async start(opts: LocalWorkspaceOptions): Promise<LocalWorkspace> {
    const dcrs = opts.dcrs ?? [defaultDcr()];
    const issues = checkOptions(opts, dcrs);
    if (issues.length) throw new ConfigError('invalid local workspace options', issues);
    const dataDir = resolve(opts.dataDir);
    const log = opts.log ?? silentLogger();
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if ((statSync(dataDir).mode & 0o077) !== 0) {
      log.warn({ dataDir }, 'local workspace data directory is accessible to other users; chmod 700 it');
    }
    if (openDataDirs.has(dataDir)) {
      throw new ConfigError('data directory is in use', [{ path: 'dataDir', message: `a workspace in this process already uses ${dataDir}` }]);
    }
    const running = readEndpointFile(dataDir);
    if (running && running.pid !== process.pid) {
      throw new ConfigError('data directory is in use', [
        { path: 'dataDir', message: `workspace at ${running.url} (pid ${running.pid}) uses ${dataDir}` },
      ]);
    }
    openDataDirs.add(dataDir);
    let store: WorkspaceStore | undefined;
    let server: Server | undefined;
    try {
      const dbFile = join(dataDir, DATABASE_FILE);
      // SQLite gives the WAL and shared-memory files the database file's mode.
      for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) if (f === dbFile || fileExists(f)) ensurePrivateFile(f);
      store = WorkspaceStore.open({
        file: dbFile,
        log,
        ...(opts.retentionRows === undefined ? {} : { retentionRows: opts.retentionRows }),
        ...(opts.maxDbBytes === undefined ? {} : { maxDbBytes: opts.maxDbBytes }),
      });
      const conflicts: ConfigIssue[] = [];
      for (const [table, columns] of declaredTables(dcrs)) {
        const why = store.conflict(table, columns);
        if (why) conflicts.push({ path: 'dcrs', message: why });
      }
      if (conflicts.length) throw new ConfigError('DCR streams conflict with tables stored in the data directory', conflicts);

      const tenantId = opts.tenantId ?? DEFAULT_TENANT_ID;
      const host = opts.host ?? '127.0.0.1';
      const tls = opts.tls ? ensureWorkspaceTls(dataDir, host) : undefined;
      if (tls?.generated) log.info({ caFile: tls.caFile }, 'local workspace generated its TLS certificate authority');
      const queryToken = writeQueryToken(dataDir);
      const clients = opts.clients ?? [{ clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET }];
      // A fresh signing key per start: tokens do not survive a restart (clients get 401 and fetch another).
      const tokenKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const tokenKeyId = randomBytes(8).toString('hex');
      const now = (): number => Date.now();
      const closing = new AbortController();
      const ctx: ServerContext = {
        log,
        rejectLog: new RateLimitedLog(),
        store,
        faults: new FaultInjector(now),
        requests: new RequestLog(opts.requestLogSize ?? 1000),
        verifier: new BearerVerifier({
          key: tokenKeys.publicKey,
          tenantId,
          audiences: [MONITOR_AUDIENCE, `${MONITOR_AUDIENCE}/`],
          now,
          skewSec: opts.tokenClockSkewSec ?? 60,
        }),
        tenantId,
        clients: registerClients(clients),
        identity: createIdentityContext({
          tenantId,
          dataDir,
          ...(opts.managedIdentities ? { managedIdentities: opts.managedIdentities } : {}),
          ...(opts.systemAssigned === undefined ? {} : { systemAssigned: opts.systemAssigned }),
          skewSec: opts.tokenClockSkewSec ?? 60,
          now,
          closing: closing.signal,
        }),
        dcrs: new Map(dcrs.map((d) => [d.immutableId, d])),
        declaredTables: declaredTables(dcrs),
        tokenKey: tokenKeys.privateKey,
        tokenKeyId,
        tokenJwk: { ...tokenKeys.publicKey.export({ format: 'jwk' }), kid: tokenKeyId, use: 'sig', alg: 'RS256' },
        tokenLifetimeSec: opts.tokenLifetimeSec ?? 3600,
        scheme: tls ? 'https' : 'http',
        queryToken,
        maxInflatedBodyBytes: opts.maxInflatedBodyBytes ?? DEFAULT_MAX_INFLATED_BODY_BYTES,
        now,
        closing: closing.signal,
        ...(opts.dataCollector ? { dataCollector: dataCollectorSettings(opts.dataCollector) } : {}),
      };
      const headersTimeout = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
      const requestTimeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
      const httpOptions = {
        headersTimeout,
        requestTimeout,
        // Node enforces both timeouts only when it checks its connections: check often enough to be on time.
        connectionsCheckingInterval: Math.min(1000, Math.ceil(headersTimeout / 4)),
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        maxHeaderSize: 16 * 1024,
      };
      server = tls
        ? createHttpsServer({ ...httpOptions, key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2', handshakeTimeout: headersTimeout })
        : createServer(httpOptions);
      const evictLog = new RateLimitedLog();
      // Over TLS a connection counts once its handshake is done; the handshake timeout bounds the ones before.
      new ConnectionGuard(server, tls ? 'secureConnection' : 'connection', opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS, (evicted, remote) => {
        const suppressed = evictLog.admit('evict');
        if (suppressed >= 0) log.warn({ evicted, remote, suppressed }, 'local workspace at its connection cap closed a stalled connection');
      });
      const address = await listen(server, opts.port ?? 0, host);
      const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const url = `${tls ? 'https' : 'http'}://${urlHost}:${address.port}`;
      const ws = new LocalWorkspace({ url, dataDir, dcrs, clients, server, ctx, closing, ...(tls ? { caFile: tls.caFile } : {}) });
      server.on('request', (req: IncomingMessage, res: ServerResponse) => ws.#dispatch(req, res));
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => ws.#clientError(err, socket));
      writeEndpointFile(dataDir, {
        url,
        authority: url,
        tenantId,
        dcrImmutableId: ws.dcrImmutableId,
        pid: process.pid,
        startedAt: new Date().toISOString(),
        ...(tls ? { caFile: tls.caFile } : {}),
      });
      log.info({ endpoint: url, dataDir, dcrImmutableId: ws.dcrImmutableId, tenantId, caFile: tls?.caFile }, 'local workspace listening');
      return ws;
    } catch (err) {
      if (server?.listening) server.close();
      store?.close();
      openDataDirs.delete(dataDir);
      throw err;
    }
  }

  /** Token endpoint URL of a tenant (default: this workspace's tenant). */
  tokenUrl(tenant: string = this.tenantId): string {
    return `${this.authority}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`;
  }

  /** Ingestion URL of a stream (default DCR, api-version 2023-01-01). */
  ingestionUrl(stream: string, dcrImmutableId: string = this.dcrImmutableId): string {
    return `${this.url}/dataCollectionRules/${encodeURIComponent(dcrImmutableId)}/streams/${encodeURIComponent(stream)}?api-version=2023-01-01`;
  }

  /**
   * Issues an access token without the HTTP flow (tests): by default for the first client, now, with the
   * configured lifetime and the ingestion audience.
   */
  async issueToken(overrides: IssueTokenOverrides = {}): Promise<string> {
    const issued = await issueAccessToken({
      key: this.#ctx.tokenKey,
      keyId: this.#ctx.tokenKeyId,
      clientId: overrides.clientId ?? this.clients[0]?.clientId ?? DEFAULT_CLIENT_ID,
      tenantId: this.tenantId,
      audience: overrides.audience ?? MONITOR_AUDIENCE,
      nowMs: overrides.nowMs ?? this.#ctx.now(),
      lifetimeSec: overrides.lifetimeSec ?? this.#ctx.tokenLifetimeSec,
    });
    return issued.accessToken;
  }

  #dispatch(req: IncomingMessage, res: ServerResponse): void {
    const p = this.#handle(req, res);
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = new Date().toISOString();
    const state: RequestState = { bytes: 0 };
    res.once('close', () => this.#record(req, res, state, receivedAt));
    let ex: Exchange | undefined;
    try {
      let url: URL;
      try {
        // Origin-form targets are appended (so `//x` stays a path); anything else is parsed as an absolute URL.
        const target = req.url ?? '/';
        url = new URL(target.startsWith('/') ? `http://workspace.local${target}` : target);
      } catch {
        url = new URL('http://workspace.local/_invalid');
      }
      ex = new Exchange(req, res, url);
      await this.#route(ex, state);
    } catch (err) {
      this.#log.error({ err, method: req.method }, 'local workspace request failed');
      if (ex?.writable) ex.azureError(500, 'InternalServerError', 'The local workspace failed to process the request.');
      else if (!res.writableEnded) res.destroy();
    }
  }

  async #route(ex: Exchange, state: RequestState): Promise<void> {
    const ctx = this.#ctx;
    const seg = decodeSegments(ex.url.pathname);
    if (!seg) return reject(ctx, ex, state, 400, 'InvalidUri', 'The request path is not valid.');
    if (seg.length === 1 && seg[0] === 'healthz') {
      return ex.json(200, { status: 'ok' });
    }
    if (seg[0] === '_admin') return handleAdmin(ctx, ex, state, seg.slice(1));
    if (seg[0] === 'query' && seg.length === 2 && seg[1]) {
      return seg[1] === 'tables' ? handleListTables(ctx, ex, state) : handleQuery(ctx, ex, state, seg[1]);
    }
    if (seg.length === 2 && seg[0] === 'api' && seg[1] === 'logs') return handleDataCollector(ctx, ex, state);
    if (seg.length === 4 && seg[0] === 'dataCollectionRules' && seg[2] === 'streams' && seg[1] && seg[3]) {
      return handleIngest(ctx, ex, state, seg[1], seg[3]);
    }
    if (seg.join('/') === 'metadata/identity/oauth2/token') return handleImds(ctx, ex, state);
    if (seg.join('/') === 'arc/metadata/identity/oauth2/token') return handleArc(ctx, ex, state);
    if (seg.length === 4 && seg[1] === 'oauth2' && seg[2] === 'v2.0' && seg[3] === 'token' && seg[0]) {
      return handleToken(ctx, ex, state, seg[0]);
    }
    if (seg.length === 4 && seg[1] === 'v2.0' && seg[2] === '.well-known' && seg[3] === 'openid-configuration' && seg[0]) {
      return handleOpenIdConfiguration(ctx, ex, state, seg[0]);
    }
    if (seg.length === 4 && seg[1] === 'discovery' && seg[2] === 'v2.0' && seg[3] === 'keys' && seg[0]) {
      return handleJwks(ctx, ex, state, seg[0]);
    }
    reject(ctx, ex, state, 404, 'NotFound', 'No route matches the request.');
  }

  #record(req: IncomingMessage, res: ServerResponse, state: RequestState, receivedAt: string): void {
    if (!state.route) return;
    const headers: Record<string, string> = {};
    for (const h of LOGGED_HEADERS) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v.slice(0, 200);
    }
    const requestId = req.headers['x-ms-client-request-id'];
    this.#ctx.requests.add({
      method: req.method ?? '',
      path: (req.url ?? '').slice(0, 512),
      route: state.route,
      ...(state.dcrImmutableId === undefined ? {} : { dcrImmutableId: state.dcrImmutableId }),
      ...(state.stream === undefined ? {} : { stream: state.stream }),
      status: res.writableFinished ? res.statusCode : 0,
      bytes: state.bytes,
      ...(state.records === undefined ? {} : { records: state.records }),
      ...(typeof requestId === 'string' ? { requestId: requestId.slice(0, 200) } : {}),
      ...(state.errorCode === undefined ? {} : { errorCode: state.errorCode }),
      ...(state.faults === undefined ? {} : { faults: state.faults }),
      receivedAt,
      headers,
    });
  }

  #clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    this.#log.debug({ err }, 'local workspace dropped a malformed request');
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  /**
   * Stops listening, ends in-flight requests (after a short grace period), closes the store and removes
   * the endpoint file. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    this.#closing.abort();
    const serverClosed = new Promise<void>((resolvePromise) => this.#server.close(() => resolvePromise()));
    this.#server.closeIdleConnections();
    if (this.#inflight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((r) => {
        timer = setTimeout(r, CLOSE_GRACE_MS);
        timer.unref();
      });
      await Promise.race([Promise.allSettled([...this.#inflight]), grace]);
      clearTimeout(timer);
    }
    this.#server.closeAllConnections();
    await Promise.allSettled([...this.#inflight]);
    await serverClosed;
    this.store.close();
    removeEndpointFile(this.dataDir, this.url);
    openDataDirs.delete(this.dataDir);
    this.#log.info({ endpoint: this.url }, 'local workspace closed');
  }
}
