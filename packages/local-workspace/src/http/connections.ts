import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

interface Tracked {
  /** The request being received or answered on this connection; undefined while idle or before its headers are complete. */
  req: IncomingMessage | undefined;
}

/**
 * Caps the connections of a server without refusing new ones: when a connection arrives at the cap, the
 * connection that has waited longest without a complete request (one dripping its headers, or an idle
 * keep-alive one) is closed to make room; failing that, the oldest one still receiving its request body.
 * Connections whose request has arrived and is being answered are never closed. So slow or stalled clients
 * cannot keep `/healthz` or the agent's own requests out: they only take each other's places.
 */
export class ConnectionGuard {
  /** In order of their last change of state, oldest first. */
  readonly #sockets = new Map<Socket, Tracked>();
  #evicted = 0;

  constructor(
    server: Server,
    connectionEvent: 'connection' | 'secureConnection',
    private readonly max: number,
    private readonly onEvict: (evicted: number, remote: string | undefined) => void,
  ) {
    server.on(connectionEvent, (socket: Socket) => this.#add(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#busy(req, res));
  }

  /** Connections closed to make room since the start. */
  get evicted(): number {
    return this.#evicted;
  }

  get size(): number {
    return this.#sockets.size;
  }

  #add(socket: Socket): void {
    if (this.#sockets.size >= this.max && !this.#evictOne()) {
      socket.destroy();
      return;
    }
    this.#sockets.set(socket, { req: undefined });
    socket.once('close', () => this.#sockets.delete(socket));
  }

  #busy(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    if (!this.#sockets.has(socket)) return;
    this.#sockets.delete(socket);
    const t: Tracked = { req };
    this.#sockets.set(socket, t);
    res.once('close', () => {
      if (this.#sockets.get(socket) !== t) return;
      // Idle again: it moves to the end of the queue (the newest idle connection is closed last).
      this.#sockets.delete(socket);
      if (!socket.destroyed) this.#sockets.set(socket, { req: undefined });
    });
  }

  #evictOne(): boolean {
    let victim: Socket | undefined;
    for (const [s, t] of this.#sockets) {
      if (t.req === undefined) {
        victim = s;
        break;
      }
    }
    if (!victim) {
      for (const [s, t] of this.#sockets) {
        if (t.req !== undefined && !t.req.complete) {
          victim = s;
          break;
        }
      }
    }
    if (!victim) return false;
    this.#sockets.delete(victim);
    this.#evicted++;
    this.onEvict(this.#evicted, victim.remoteAddress);
    victim.destroy();
    return true;
  }
}
