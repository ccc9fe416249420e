import { createHmac } from 'node:crypto';

/** The resource every request is signed for and posted to. */
export const DATA_COLLECTOR_RESOURCE = '/api/logs';

/** The content type every request carries; it is part of the signed string. */
export const DATA_COLLECTOR_CONTENT_TYPE = 'application/json';

/**
 * The string the SharedKey signature covers (docs/protocol-notes.md#data-collector-signature): five lines joined by `\n`, no trailing
 * newline. `contentLength` is the BYTE length of the UTF-8 body, not its length in characters.
 */
export function stringToSign(contentLength: number, xMsDate: string): string {
  return ['POST', String(contentLength), DATA_COLLECTOR_CONTENT_TYPE, `x-ms-date:${xMsDate}`, DATA_COLLECTOR_RESOURCE].join('\n');
}

/** Base64 HMAC-SHA256 of the string to sign, keyed with the decoded workspace key. */
export function sharedKeySignature(key: Buffer, contentLength: number, xMsDate: string): string {
  return createHmac('sha256', key).update(stringToSign(contentLength, xMsDate), 'utf8').digest('base64');
}

/** The `Authorization` header value: `SharedKey {workspaceId}:{signature}`. */
export function sharedKeyAuthorization(workspaceId: string, key: Buffer, contentLength: number, xMsDate: string): string {
  return `SharedKey ${workspaceId}:${sharedKeySignature(key, contentLength, xMsDate)}`;
}

/** An `x-ms-date` value: RFC 1123 in GMT, e.g. `Mon, 04 Apr 2016 08:00:00 GMT`. */
export function rfc1123Date(ms: number): string {
  return new Date(ms).toUTCString();
}
