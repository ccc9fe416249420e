/** Stable error codes. Branch on `err.code`, never on `instanceof`, across package boundaries. */
export type ErrorCode =
  | 'OMA_ERR_CONFIG_INVALID'
  | 'OMA_ERR_CONFIG_READ'
  | 'OMA_ERR_CONFIG_SECRET'
  | 'OMA_ERR_BUFFER_CORRUPT'
  /** A payload larger than the durable queue can ever hold (maxBytes or segmentMaxBytes). */
  | 'OMA_ERR_BUFFER_TOO_LARGE'
  /** The durable queue's device has no space left (ENOSPC, EDQUOT) where the queue cannot wait for it. */
  | 'OMA_ERR_BUFFER_NO_SPACE'
  | 'OMA_ERR_BUFFER_CLOSED'
  | 'OMA_ERR_TRANSPORT'
  | 'OMA_ERR_AUTH'
  | 'OMA_ERR_NATIVE_LOAD'
  | 'OMA_ERR_NATIVE'
  | 'OMA_ERR_COMPONENT'
  /** A source's checkpoint file was unreadable or not understood; it was kept aside. */
  | 'OMA_ERR_CHECKPOINT_CORRUPT'
  | 'OMA_ERR_ABORTED'
  /** A syslog transport could not listen (address in use, no permission, a bad socket path). */
  | 'OMA_ERR_SYSLOG_LISTEN';

export class AgentError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
  }
}

export interface ConfigIssue {
  /** Path inside the config document, e.g. `sources.app.filePatterns[0]`. */
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends AgentError {
  readonly issues: readonly ConfigIssue[];
  constructor(message: string, issues: readonly ConfigIssue[] = [], options?: { cause?: unknown }) {
    super('OMA_ERR_CONFIG_INVALID', message, options);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export class BufferCorruptionError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OMA_ERR_BUFFER_CORRUPT', message, options);
    this.name = 'BufferCorruptionError';
  }
}

export class TransportError extends AgentError {
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super('OMA_ERR_TRANSPORT', message, options);
    this.name = 'TransportError';
    this.status = status;
  }
}

export function isAgentError(err: unknown): err is AgentError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' &&
    String((err as { code: string }).code).startsWith('OMA_ERR_');
}

/** Returns a short `error_type` label for metrics: the error code, errno code, or the error name. */
export function errorType(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.length <= 48) return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'unknown';
}
