import { AgentError } from '../errors.js';

/**
 * A token could not be obtained. `status` is the token endpoint's HTTP status (undefined for network
 * failures); `retryAfterMs` is the delay the endpoint asked for, if any. The message carries Entra's
 * error description (the `AADSTS…` text) and never a credential.
 */
export class AuthError extends AgentError {
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  /** Entra error codes (`AADSTS<n>`) from the response, if any. */
  readonly aadstsCodes: readonly number[];
  constructor(
    message: string,
    opts: { status?: number; retryAfterMs?: number; aadstsCodes?: readonly number[]; cause?: unknown } = {},
  ) {
    super('OMA_ERR_AUTH', message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AuthError';
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
    this.aadstsCodes = opts.aadstsCodes ?? [];
  }
}
