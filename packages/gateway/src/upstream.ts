import { request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { formatTarget, type Target } from './allowlist.js';
import type { UpstreamProxy } from './config.js';

/** How opening the upstream side of a tunnel ended. Never a rejected promise. */
export type ConnectOutcome =
  | { readonly ok: true; readonly socket: Socket; readonly head: Buffer }
  | {
      readonly ok: false;
      /** `unreachable`: DNS or TCP failure, or the relay proxy refused; `timeout`: no connection in time; `aborted`: the caller gave up. */
      readonly reason: 'unreachable' | 'timeout' | 'aborted';
      readonly err?: Error;
      /** Status the relay proxy answered with, when it refused the CONNECT. */
      readonly upstreamStatus?: number;
    };

export interface ConnectOptions {
  readonly proxy?: UpstreamProxy;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

/** Opens a TCP connection to `target`, directly or through a relay proxy with CONNECT. */
export function connectTarget(target: Target, opts: ConnectOptions): Promise<ConnectOutcome> {
  return opts.proxy ? connectViaProxy(target, opts.proxy, opts) : connectDirect(target, opts);
}

function ignore(): void {}

/** Runs `start` with a timeout and an abort signal; `cleanup` releases whatever did not succeed. */
function settleOnce(
  opts: ConnectOptions,
  start: (finish: (o: ConnectOutcome) => void) => void,
  cleanup: () => void,
): Promise<ConnectOutcome> {
  return new Promise<ConnectOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: ConnectOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
      if (!outcome.ok) cleanup();
      resolve(outcome);
    };
    const onAbort = (): void => finish({ ok: false, reason: 'aborted' });
    const timer = setTimeout(() => finish({ ok: false, reason: 'timeout' }), opts.timeoutMs);
    timer.unref();
    if (opts.signal.aborted) {
      finish({ ok: false, reason: 'aborted' });
      return;
    }
    opts.signal.addEventListener('abort', onAbort, { once: true });
    start(finish);
  });
}

function connectDirect(target: Target, opts: ConnectOptions): Promise<ConnectOutcome> {
  let socket: Socket | undefined;
  return settleOnce(
    opts,
    (finish) => {
      const s = connect({ host: target.host, port: target.port, allowHalfOpen: true });
      socket = s;
      const onError = (err: Error): void => finish({ ok: false, reason: 'unreachable', err });
      s.once('error', onError);
      s.once('connect', () => {
        s.removeListener('error', onError);
        finish({ ok: true, socket: s, head: Buffer.alloc(0) });
      });
    },
    () => {
      socket?.on('error', ignore);
      socket?.destroy();
    },
  );
}

function connectViaProxy(target: Target, proxy: UpstreamProxy, opts: ConnectOptions): Promise<ConnectOutcome> {
  const authority = formatTarget(target);
  const headers: Record<string, string> = { host: authority };
  if (proxy.username !== undefined) {
    const credentials = `${proxy.username}:${proxy.password?.reveal() ?? ''}`;
    headers['proxy-authorization'] = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  }
  let req: ReturnType<typeof request> | undefined;
  let tunnel: Socket | undefined;
  return settleOnce(
    opts,
    (finish) => {
      const r = request({
        host: proxy.host,
        port: proxy.port,
        method: 'CONNECT',
        path: authority,
        headers,
        setHost: false,
        agent: false,
        createConnection: () => connect({ host: proxy.host, port: proxy.port, allowHalfOpen: true }),
      });
      req = r;
      r.on('error', (err: Error) => finish({ ok: false, reason: 'unreachable', err }));
      r.on('connect', (res: IncomingMessage, socket: Socket, head: Buffer) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          finish({ ok: true, socket, head });
          return;
        }
        tunnel = socket;
        finish({ ok: false, reason: 'unreachable', upstreamStatus: status });
      });
      r.on('response', (res: IncomingMessage) => {
        res.resume();
        finish({ ok: false, reason: 'unreachable', upstreamStatus: res.statusCode ?? 0 });
      });
      r.end();
    },
    () => {
      req?.on('error', ignore);
      req?.destroy();
      tunnel?.on('error', ignore);
      tunnel?.destroy();
    },
  );
}
