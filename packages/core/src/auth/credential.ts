/** A bearer token and the time it stops being valid. */
export interface AccessToken {
  readonly token: string;
  /** Expiry, milliseconds since the epoch (by the agent's clock). */
  readonly expiresAtMs: number;
}

/**
 * Gets bearer tokens for one audience. Implementations cache tokens and refresh them before they
 * expire; concurrent callers share one refresh. `getToken` rejects with an `AuthError` (code
 * `OMA_ERR_AUTH`) when no valid token can be had, or with the signal's reason when it aborts.
 *
 * Every credential type (client secret, client certificate, managed identity, Azure Arc) implements
 * this; sinks see nothing else.
 */
export interface TokenCredential {
  getToken(signal: AbortSignal): Promise<AccessToken>;
  /** Forgets the cached token (the service rejected it); the next `getToken` fetches a new one. */
  invalidate(): void;
  /** Aborts a refresh in progress and releases connections. */
  close(): Promise<void>;
}
