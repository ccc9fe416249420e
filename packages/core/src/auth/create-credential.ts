import type { TlsClientOptions } from '../http/dispatcher.js';
import type { Clock } from '../ports/clock.js';
import { ClientSecretCredential } from './client-secret-credential.js';
import { CLOUDS } from './clouds.js';
import type { AuthConfig } from './config.js';
import type { TokenCredential } from './credential.js';

export interface CredentialDeps {
  readonly clock: Clock;
  /** User-Agent of token requests. */
  readonly userAgent: string;
  /** Timeout of one token request. */
  readonly requestTimeoutMs: number;
  readonly tls?: TlsClientOptions;
  /** Told when a refresh fails while the cached token is still valid (it keeps being used). */
  readonly onRefreshError?: (err: unknown) => void;
}

/** Builds the credential an auth config describes. New credential types are added here only. */
export function createCredential(auth: AuthConfig, deps: CredentialDeps): TokenCredential {
  switch (auth.type) {
    case 'client_secret': {
      const cloud = CLOUDS[auth.cloud];
      return new ClientSecretCredential({
        tenantId: auth.tenantId,
        clientId: auth.clientId,
        clientSecret: auth.clientSecret,
        authorityHost: auth.authorityHost ?? cloud.authorityHost,
        scope: auth.scope ?? cloud.logsIngestionScope,
        clock: deps.clock,
        userAgent: deps.userAgent,
        requestTimeoutMs: deps.requestTimeoutMs,
        ...(deps.tls ? { tls: deps.tls } : {}),
        ...(deps.onRefreshError ? { onRefreshError: deps.onRefreshError } : {}),
      });
    }
  }
}
