/**
 * What to do with an HTTP status or a transport error, per the Azure SDK's retry strategies: 429 and
 * 503 are throttling (honour the server's delay), 408 and other 5xx except 501 and 505 are transient,
 * network errors are transient.
 */

/** Statuses that mean "try again later": 408, 429 and 5xx except 501 (not implemented) and 505. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505);
}

/** Statuses whose `Retry-After` headers are honoured. */
export function isThrottlingStatus(status: number): boolean {
  return status === 429 || status === 503;
}

/** Error codes of failures that a later attempt may not see: connection problems and timeouts. */
export const TRANSIENT_NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_ABORTED',
]);

/** An error, its `cause` chain and an AggregateError's members, breadth first, each once. */
export function* errorChain(err: unknown): Generator<object> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || seen.has(e)) continue;
    seen.add(e);
    yield e;
    queue.push((e as { cause?: unknown }).cause);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) queue.push(...(errors as unknown[]));
  }
}

/**
 * The first string `code` found on an error, its `cause` chain or an AggregateError's members
 * (undici and Node put the socket error code in different places).
 */
export function errorCode(err: unknown): string | undefined {
  for (const e of errorChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    if ((e as { name?: unknown }).name === 'TimeoutError') return 'ETIMEDOUT';
  }
  return undefined;
}

/** True for connection failures and timeouts (a retry may well succeed). */
export function isTransientNetworkError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && TRANSIENT_NETWORK_ERROR_CODES.has(code);
}
