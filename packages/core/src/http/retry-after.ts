/** Response headers as undici returns them: lower-case names, repeated headers as arrays. */
export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

/** First value of a header (names are matched in lower case). */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  return v[0];
}

const NUMBER_RE = /^\s*\d+(\.\d+)?\s*$/;

function parseMs(value: string | undefined): number | undefined {
  if (value === undefined || !NUMBER_RE.test(value)) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? Math.ceil(n) : undefined;
}

/**
 * Parses a `Retry-After` value: a number of seconds (`"2"`, `"1.5"`) or an HTTP date, which gives the
 * delay from `nowMs` (floored at 0). Returns milliseconds, or undefined when the value is not valid.
 */
export function parseRetryAfterValue(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  if (NUMBER_RE.test(value)) {
    const s = Number(value);
    return Number.isFinite(s) ? Math.ceil(s * 1000) : undefined;
  }
  // HTTP dates (IMF-fixdate, RFC 850, asctime) all start with a day name.
  if (!/^\s*[A-Za-z]{3}/.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * How long the server asked us to wait, in milliseconds, read the way the Azure SDK's throttling
 * strategy reads it: `retry-after-ms`, then `x-ms-retry-after-ms` (both milliseconds), then `Retry-After`
 * (seconds or an HTTP date). The first valid header wins; undefined when none is present and valid.
 */
export function retryAfterMs(headers: HeaderBag, nowMs: number): number | undefined {
  return (
    parseMs(headerValue(headers, 'retry-after-ms')) ??
    parseMs(headerValue(headers, 'x-ms-retry-after-ms')) ??
    parseRetryAfterValue(headerValue(headers, 'retry-after'), nowMs)
  );
}
