import type { KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Logger, RateLimitedLog } from '@oma/core';
import type { IdentityContext, RegisteredClient } from '../auth/identities.js';
import type { BearerVerifier } from '../auth/verify.js';
import type { LocalDcr } from '../dcr.js';
import type { FaultInjector } from '../faults.js';
import { readBody } from '../http/body.js';
import type { Exchange } from '../http/exchange.js';
import type { RequestLog } from '../request-log.js';
import type { StoredColumn, WorkspaceStore } from '../store/workspace-store.js';
import type { DataCollectorSettings } from './data-collector.js';

/** What the route handlers share. */
export interface ServerContext {
  readonly log: Logger;
  readonly rejectLog: RateLimitedLog;
  readonly store: WorkspaceStore;
  readonly faults: FaultInjector;
  readonly requests: RequestLog;
  readonly verifier: BearerVerifier;
  readonly tenantId: string;
  /** Client id -> its secret and registered certificates. */
  readonly clients: ReadonlyMap<string, RegisteredClient>;
  /** Managed identities, assertion replay cache and Arc challenges (certificate, IMDS and Arc flows). */
  readonly identity: IdentityContext;
  readonly dcrs: ReadonlyMap<string, LocalDcr>;
  /** Tables the DCRs declare, with the union of their columns (TimeGenerated first). */
  readonly declaredTables: ReadonlyMap<string, readonly StoredColumn[]>;
  /** Private key signing the access tokens (RS256); its public half is `tokenJwk`. */
  readonly tokenKey: KeyObject;
  /** The public key as a JWK (with `kid`, `use`, `alg`), served at the JWKS URL. */
  readonly tokenJwk: Readonly<Record<string, unknown>>;
  readonly tokenKeyId: string;
  readonly tokenLifetimeSec: number;
  /** `https` when the workspace serves TLS: how clients reach it (token audiences, discovery URLs). */
  readonly scheme: 'http' | 'https';
  /** Bearer token `/query` accepts besides an ingestion access token. */
  readonly queryToken: string;
  /** Cap on a gzip ingestion body once inflated (the wire body's cap is MAX_INGEST_BODY_BYTES). */
  readonly maxInflatedBodyBytes: number;
  readonly now: () => number;
  /** Aborted when the workspace closes. */
  readonly closing: AbortSignal;
  /** The HTTP Data Collector route's workspace and key; the route answers 404 without them. */
  readonly dataCollector?: DataCollectorSettings;
}

/** What the request log records about one request, filled in by its handler. */
export interface RequestState {
  route?: 'ingest' | 'token' | 'data_collector' | 'imds';
  dcrImmutableId?: string;
  stream?: string;
  bytes: number;
  records?: number;
  errorCode?: string;
  faults?: readonly string[];
}

/** Answers an Azure-style error and logs it (rate-limited per route, status and code). */
export function reject(
  ctx: ServerContext,
  ex: Exchange,
  state: RequestState,
  status: number,
  code: string,
  message: string,
  headers: OutgoingHttpHeaders = {},
  details?: unknown[],
): void {
  state.errorCode = code;
  logRejection(ctx, ex, state, status, code);
  ex.azureError(status, code, message, headers, details);
}

export function logRejection(ctx: ServerContext, ex: Exchange, state: RequestState, status: number, code: string): void {
  const suppressed = ctx.rejectLog.admit(`${state.route ?? 'other'}:${status}:${code}`);
  if (suppressed < 0) return;
  ctx.log.warn(
    {
      status,
      code,
      route: state.route,
      stream: state.stream,
      requestId: ex.req.headers['x-ms-client-request-id'],
      suppressed,
    },
    'local workspace rejected a request',
  );
}

/**
 * Applies the fault rules matching this request: waits their latency (cut short when the client goes away
 * or the workspace closes), then answers or resets when a rule says so. Returns true when the request was
 * handled (answered, reset, or abandoned), false when it must be processed normally.
 */
export async function applyFaults(ctx: ServerContext, ex: Exchange, state: RequestState, route: 'ingest' | 'token' | 'data_collector' | 'imds', stream?: string): Promise<boolean> {
  const decision = ctx.faults.take(route, stream);
  if (decision.ruleIds.length === 0) return false;
  state.faults = decision.ruleIds;
  if (decision.latencyMs > 0) {
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    ex.res.once('close', onClose);
    try {
      await sleep(decision.latencyMs, undefined, { signal: AbortSignal.any([gone.signal, ctx.closing]), ref: false });
    } catch {
      if (!ex.res.destroyed) ex.res.destroy();
      return true;
    } finally {
      ex.res.off('close', onClose);
    }
  }
  const t = decision.terminal;
  if (!t) return false;
  if ('reset' in t) {
    // Let the client finish sending, then drop the connection without an answer.
    await readBody(ex.req, 0).catch(() => undefined);
    ex.req.socket.destroy();
    return true;
  }
  state.errorCode = 'InjectedFault';
  const headers: OutgoingHttpHeaders = { ...t.headers };
  if (t.body === undefined) {
    if (t.status >= 400) {
      ex.azureError(t.status, 'InjectedFault', `Fault injected by the local workspace (status ${t.status}).`, headers);
    } else {
      ex.empty(t.status, headers);
    }
  } else if (typeof t.body === 'string') {
    ex.send(t.status, t.body, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  } else {
    ex.json(t.status, t.body, headers);
  }
  return true;
}
