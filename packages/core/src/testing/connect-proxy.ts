import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** One CONNECT request the proxy received. */
export interface ProxyConnect {
  /** `host:port` asked for. */
  readonly target: string;
  /** The raw `Proxy-Authorization` header, if any. */
  readonly proxyAuthorization?: string;
  /** User and password decoded from a Basic `Proxy-Authorization` header. */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** Status the proxy answered with (200 when it opened the tunnel). */
  readonly status: number;
}

export interface TestConnectProxyOptions {
  /** Require Basic authentication with these credentials (407 otherwise). */
  readonly auth?: { readonly username: string; readonly password: string };
  /** Answer CONNECT with this status instead of tunnelling, when it returns one (e.g. 403). */
  readonly refuse?: (target: string) => number | undefined;
  /** Serve the proxy over TLS (an `https:` proxy) with this certificate. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

const REASONS: Record<number, string> = {
  200: 'Connection Established',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  502: 'Bad Gateway',
};

function decodeBasic(header: string | undefined): ProxyConnect['credentials'] {
  const m = header === undefined ? null : /^Basic\s+(\S+)$/i.exec(header);
  if (!m) return undefined;
  const pair = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = pair.indexOf(':');
  if (colon < 0) return { username: pair, password: '' };
  return { username: pair.slice(0, colon), password: pair.slice(colon + 1) };
}

/**
 * A minimal HTTP CONNECT forward proxy on 127.0.0.1 for tests: optional Basic authentication, records
 * every CONNECT (target, credentials, answer), can refuse tunnels. Anything but CONNECT gets 405.
 */
export class TestConnectProxy {
  readonly connects: ProxyConnect[] = [];
  private readonly sockets = new Set<Duplex>();

  private constructor(
    private readonly server: Server,
    private readonly opts: TestConnectProxyOptions,
  ) {}

  static async start(opts: TestConnectProxyOptions = {}): Promise<TestConnectProxy> {
    const server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }) : createHttpServer();
    const proxy = new TestConnectProxy(server, opts);
    server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => proxy.onConnect(req, socket, head));
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('only CONNECT is supported\n');
    });
    server.on('connection', (s: Socket) => proxy.track(s));
    server.on('secureConnection', (s: Duplex) => proxy.track(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:<port>` (or https), without credentials. */
  get url(): string {
    return `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Targets of the tunnels opened (status 200). */
  get tunnels(): string[] {
    return this.connects.filter((c) => c.status === 200).map((c) => c.target);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(s: Duplex): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
  }

  private answer(socket: Duplex, status: number, extra = ''): void {
    socket.end(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`);
  }

  private onConnect(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.track(socket);
    socket.on('error', () => socket.destroy());
    const target = req.url ?? '';
    const header = req.headers['proxy-authorization'];
    const credentials = decodeBasic(header);
    const record = (status: number): void => {
      this.connects.push({
        target,
        status,
        ...(header !== undefined ? { proxyAuthorization: header } : {}),
        ...(credentials !== undefined ? { credentials } : {}),
      });
    };
    const auth = this.opts.auth;
    if (auth && (credentials?.username !== auth.username || credentials.password !== auth.password)) {
      record(407);
      this.answer(socket, 407, 'Proxy-Authenticate: Basic realm="test"\r\n');
      return;
    }
    const refused = this.opts.refuse?.(target);
    if (refused !== undefined) {
      record(refused);
      this.answer(socket, refused);
      return;
    }
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target);
    if (!m) {
      record(400);
      this.answer(socket, 400);
      return;
    }
    const upstream = connect({ host: m[1] ?? m[2]!, port: Number(m[3]) });
    this.track(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      record(200);
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => {
      if (!connected) {
        record(502);
        this.answer(socket, 502);
      } else {
        socket.destroy();
      }
    });
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  }
}
