import { AgentError } from '@oma/core';

/** A transport of the syslog source could not open (`OMA_ERR_SYSLOG_LISTEN`); `cause` is the system error. */
export class SyslogListenError extends AgentError {
  constructor(
    readonly transport: string,
    readonly address: string,
    options: { cause: unknown },
  ) {
    const code = (options.cause as NodeJS.ErrnoException | undefined)?.code;
    super('OMA_ERR_SYSLOG_LISTEN', `syslog ${transport} cannot listen on ${address}${code ? ` (${code})` : ''}`, options);
    this.name = 'SyslogListenError';
  }
}
