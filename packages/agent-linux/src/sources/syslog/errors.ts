import { AgentError } from '@oma/core';

/** A transport of the syslog source could not open (`OMA_ERR_SYSLOG_LISTEN`); `cause` is the system error. */
export class SyslogListenError extends AgentError {
  constructor(
    readonly transport: string,
    readonly address: string,
    options: { cause: unknown },
  ) {
    // A native binding's error (OMA_ERR_NATIVE) carries the errno in its own cause.
    const c = options.cause as { code?: unknown; cause?: { code?: unknown } } | undefined;
    const code = c?.code === 'OMA_ERR_NATIVE' && typeof c.cause?.code === 'string' ? c.cause.code : typeof c?.code === 'string' ? c.code : undefined;
    super('OMA_ERR_SYSLOG_LISTEN', `syslog ${transport} cannot listen on ${address}${code ? ` (${code})` : ''}`, options);
    this.name = 'SyslogListenError';
  }
}
