/**
 * Preloaded (`--import`) into Windows node.exe under Wine 8 for the agent test: Wine 8 fails a TCP
 * connect with UNKNOWN when keep-alive was set on the socket before it connected (libuv applies it
 * then, with options Wine 8's setsockopt refuses), which undici does for every connection. Set after
 * the connect it works. On Windows this module is not loaded.
 */
import net from 'node:net';

const proto = net.Socket.prototype;
const setKeepAlive = Object.getOwnPropertyDescriptor(proto, 'setKeepAlive')?.value as (this: net.Socket, enable?: boolean, initialDelay?: number) => net.Socket;
proto.setKeepAlive = function (this: net.Socket, enable?: boolean, initialDelay?: number): net.Socket {
  if (this.connecting) {
    this.once('connect', () => setKeepAlive.call(this, enable, initialDelay));
    return this;
  }
  return setKeepAlive.call(this, enable, initialDelay);
};
