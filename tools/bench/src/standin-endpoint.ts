/**
 * A stand-in for an Azure Monitor Logs Ingestion endpoint that costs little CPU, so that a benchmark
 * measures the agent rather than the receiver (the local workspace stores every row in SQLite).
 *
 * - `POST …/oauth2/v2.0/token` (Entra ID, as the client_secret credential builds it from `authorityHost`
 *   and the tenant) answers a bearer token.
 * - `POST …/dataCollectionRules/<id>/streams/<name>?…` reads the body, inflates it when
 *   `Content-Encoding: gzip`, parses the JSON array and counts its records, then answers 204. A call over the
 *   service's limits (wire body over 1,048,576 bytes, or inflated body over 50 MiB) is answered 413 and
 *   counted in `overLimit`; a body that does not inflate or parse into an array is answered 400 and counted
 *   in `bad`, as is a request to any other path.
 * - `GET /stats` answers the counters as JSON.
 *
 * Runs in the benchmark's process (`startStandin`) or on its own: `node dist/standin-endpoint.js [PORT]`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** The service's limit on a request body as sent (compressed). */
export const MAX_WIRE_BYTES = 1_048_576;
/** The service's limit on a request body once inflated. */
export const MAX_INFLATED_BYTES = 50 * 1_048_576;
/** Streams counted by name; records of further names are counted under `(other)`. */
const MAX_STREAM_NAMES = 100;

export interface StandinStats {
  /** Calls answered 204. */
  calls: number;
  /** Records in those calls. */
  records: number;
  recordsByStream: Record<string, number>;
  /** Largest accepted call: inflated JSON and body as sent. */
  maxInflatedBytes: number;
  maxWireBytes: number;
  /** Calls answered 413 (over the wire or the inflated limit). */
  overLimit: number;
  /** Requests answered 400 or 404. */
  bad: number;
  /** Token requests answered. */
  tokens: number;
  /** Date.now() of the first and last accepted call (0: none yet). */
  firstAtMs: number;
  lastAtMs: number;
}

export interface Standin {
  /** `http://127.0.0.1:<port>`: the endpoint and the authority host. */
  readonly url: string;
  /** A copy of the counters. */
  stats(): StandinStats;
  close(): Promise<void>;
}

const ABSOLUTE_FORM = /^https?:\/\/[^/?]*/i;
const TOKEN_PATH = /^\/[^/?]+\/oauth2\/v2\.0\/token(?:\?|$)/;
const STREAM_PATH = /^(?:\/[^?]*)?\/dataCollectionRules\/[^/?]+\/streams\/([^/?]+)(?:\?|$)/;
const TOKEN_BODY = JSON.stringify({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'x.y.z' });

function emptyStats(): StandinStats {
  return { calls: 0, records: 0, recordsByStream: {}, maxInflatedBytes: 0, maxWireBytes: 0, overLimit: 0, bad: 0, tokens: 0, firstAtMs: 0, lastAtMs: 0 };
}

function answer(res: ServerResponse, status: number, body?: string): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(body);
}

function azureError(res: ServerResponse, status: number, code: string, message: string): void {
  answer(res, status, JSON.stringify({ error: { code, message } }));
}

/** The request handler and its counters (exported for the benchmark's own process and for reuse). */
export function createStandinHandler(): { stats: StandinStats; handle: (req: IncomingMessage, res: ServerResponse) => void } {
  const stats = emptyStats();

  const ingest = (res: ServerResponse, stream: string, encoding: string, wireBytes: number, body: Buffer | undefined): void => {
    if (body === undefined) {
      stats.overLimit++;
      azureError(res, 413, 'ContentLengthLimitExceeded', `Maximum allowed content length: ${MAX_WIRE_BYTES} bytes. Provided content length: ${wireBytes}.`);
      return;
    }
    let raw = body;
    if (encoding === 'gzip') {
      try {
        raw = gunzipSync(body, { maxOutputLength: MAX_INFLATED_BYTES });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          stats.overLimit++;
          azureError(res, 413, 'ContentLengthLimitExceeded', `Maximum allowed content length after decompression: ${MAX_INFLATED_BYTES} bytes.`);
        } else {
          stats.bad++;
          azureError(res, 400, 'InvalidContentEncoding', 'The body does not inflate as gzip.');
        }
        return;
      }
    } else if (encoding !== '' && encoding !== 'identity') {
      stats.bad++;
      azureError(res, 400, 'InvalidContentEncoding', 'Only gzip is supported.');
      return;
    } else if (raw.length > MAX_INFLATED_BYTES) {
      stats.overLimit++;
      azureError(res, 413, 'ContentLengthLimitExceeded', `Maximum allowed content length: ${MAX_INFLATED_BYTES} bytes.`);
      return;
    }
    let records: unknown;
    try {
      records = JSON.parse(raw.toString('utf8'));
    } catch {
      records = undefined;
    }
    if (!Array.isArray(records)) {
      stats.bad++;
      azureError(res, 400, 'InvalidPayload', 'The body must be a JSON array of records.');
      return;
    }
    const now = Date.now();
    stats.calls++;
    stats.records += records.length;
    const name = stream in stats.recordsByStream || Object.keys(stats.recordsByStream).length < MAX_STREAM_NAMES ? stream : '(other)';
    stats.recordsByStream[name] = (stats.recordsByStream[name] ?? 0) + records.length;
    stats.maxInflatedBytes = Math.max(stats.maxInflatedBytes, raw.length);
    stats.maxWireBytes = Math.max(stats.maxWireBytes, wireBytes);
    if (stats.firstAtMs === 0) stats.firstAtMs = now;
    stats.lastAtMs = now;
    answer(res, 204);
  };

  const route = (req: IncomingMessage, res: ServerResponse, wireBytes: number, body: Buffer | undefined): void => {
    // A request target in absolute form (`http://host:port/path`, RFC 9112 §3.2.2; Fluent Bit sends it) is read as its path.
    const url = (req.url ?? '').replace(ABSOLUTE_FORM, '');
    if (req.method === 'POST' && TOKEN_PATH.test(url)) {
      stats.tokens++;
      answer(res, 200, TOKEN_BODY);
      return;
    }
    if (req.method === 'GET' && (url === '/stats' || url.startsWith('/stats?'))) {
      answer(res, 200, JSON.stringify(stats));
      return;
    }
    const stream = req.method === 'POST' ? STREAM_PATH.exec(url) : null;
    if (!stream) {
      stats.bad++;
      azureError(res, 404, 'NotFound', 'No such resource.');
      return;
    }
    let name: string;
    try {
      name = decodeURIComponent(stream[1]!);
    } catch {
      stats.bad++;
      azureError(res, 400, 'InvalidStream', 'The stream name is not valid percent-encoding.');
      return;
    }
    const encoding = String(req.headers['content-encoding'] ?? '').trim().toLowerCase();
    ingest(res, name, encoding, wireBytes, body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Bodies over the wire limit are read to their end (to count them) but not kept.
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_WIRE_BYTES) chunks.push(chunk);
    });
    req.on('error', () => {
      // The client went away mid-request: nothing to answer.
    });
    req.on('end', () => {
      try {
        route(req, res, size, size <= MAX_WIRE_BYTES ? Buffer.concat(chunks, size) : undefined);
      } catch {
        stats.bad++;
        if (!res.headersSent) azureError(res, 400, 'BadRequest', 'The request could not be read.');
        else res.destroy();
      }
    });
  };

  return { stats, handle };
}

/** Starts the stand-in on 127.0.0.1 (`port` 0: any free port). */
export async function startStandin(port = 0): Promise<Standin> {
  const { stats, handle } = createStandinHandler();
  const server = createServer(handle);
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    stats: () => ({ ...stats, recordsByStream: { ...stats.recordsByStream } }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  startStandin(Number(process.argv[2] ?? 0)).then(
    (s) => process.stdout.write(`listening ${s.url}\n`),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
