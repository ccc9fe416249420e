/** One ingestion or token request as the workspace saw it. */
export interface RequestLogEntry {
  readonly method: string;
  /** Path and query string (at most 512 characters). */
  readonly path: string;
  readonly route: 'ingest' | 'token' | 'data_collector' | 'imds';
  readonly dcrImmutableId?: string;
  readonly stream?: string;
  /** Status answered; 0 when the connection was reset or the client went away first. */
  readonly status: number;
  /** Request body bytes received on the wire. */
  readonly bytes: number;
  /** Rows stored (ingestion answered 204). */
  readonly records?: number;
  /** `x-ms-client-request-id` of the request. */
  readonly requestId?: string;
  /** Error code of the answer, when it was an error. */
  readonly errorCode?: string;
  /** Ids of the fault rules applied. */
  readonly faults?: readonly string[];
  /** When the request arrived (ISO 8601). */
  readonly receivedAt: string;
  /** A subset of request headers: content-type, content-encoding, content-length, user-agent, x-ms-client-request-id. */
  readonly headers: Readonly<Record<string, string>>;
}

export const LOGGED_HEADERS = ['content-type', 'content-encoding', 'content-length', 'user-agent', 'x-ms-client-request-id'] as const;

/** The last N requests, oldest first, for tests and the admin API. */
export class RequestLog {
  readonly #entries: RequestLogEntry[] = [];

  constructor(private readonly capacity = 1000) {}

  add(entry: RequestLogEntry): void {
    if (this.capacity <= 0) return;
    this.#entries.push(entry);
    if (this.#entries.length > this.capacity) this.#entries.splice(0, this.#entries.length - this.capacity);
  }

  /** Entries, oldest first, optionally only one route or stream. */
  entries(filter: { route?: 'ingest' | 'token' | 'data_collector' | 'imds'; stream?: string } = {}): RequestLogEntry[] {
    return this.#entries.filter((e) => (filter.route === undefined || e.route === filter.route) && (filter.stream === undefined || e.stream === filter.stream));
  }

  clear(): void {
    this.#entries.length = 0;
  }
}
