import { TransportError } from '../../errors.js';
import { errorCode } from '../../http/classify.js';
import { describeEgressError } from '../../http/egress-error.js';
import type { Egress } from '../../http/egress.js';

/** A service's error code and message, as one API's error body gives them. */
export interface ServiceErrorFields {
  readonly code?: string;
  readonly message?: string;
}

/** The service's error body parsed when it is JSON, else the text (for dead-letter files). */
export function parseErrorBody(body: string | undefined): unknown {
  if (body === undefined || body === '') return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

/** How one API's error answers read, for log lines and the errors of failed attempts. */
export interface ServiceErrors {
  /** `code: message` of an error body (else its text), on one line and short enough for a log line. */
  readonly summarize: (body: string | undefined) => string | undefined;
  /** The error of an answer that is not a success: `<api> returned HTTP <status>: <summary>`. */
  readonly error: (status: number, body: string) => TransportError;
}

/** The `ServiceErrors` of the API named `api` (e.g. `Logs Ingestion API`), whose error bodies `parse` reads. */
export function serviceErrors(api: string, parse: (body: string) => ServiceErrorFields): ServiceErrors {
  const summarize = (body: string | undefined): string | undefined => {
    if (body === undefined || body === '') return undefined;
    const { code, message } = parse(body);
    let text = code !== undefined || message !== undefined ? [code, message].filter((s) => s !== undefined).join(': ') : body;
    text = text.replace(/\s+/g, ' ').trim();
    return text.length > 512 ? `${text.slice(0, 512)}…` : text;
  };
  return {
    summarize,
    error: (status, body) => {
      const summary = summarize(body);
      return new TransportError(`${api} returned HTTP ${status}${summary ? `: ${summary}` : ''}`, status);
    },
  };
}

/**
 * The error of a request that got no answer. A proxy or TLS problem gets a sentence saying what to fix
 * (never the proxy password); anything else is `request to <endpoint> failed (<code>)`.
 */
export function networkError(endpoint: string, error: Error, egress: Egress, origin: string): TransportError {
  return new TransportError(
    describeEgressError(error, egress, origin) ?? `request to ${endpoint} failed (${errorCode(error) ?? error.name})`,
    undefined,
    { cause: error },
  );
}
