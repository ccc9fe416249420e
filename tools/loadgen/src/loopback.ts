import { isIP } from 'node:net';

/** The generators only ever target this machine: a 127.0.0.0/8 or ::1 address, or `localhost`. */
export function assertLoopback(host: string): void {
  const ok = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (!ok) throw new Error(`loadgen sends to loopback targets only (127.0.0.0/8, ::1, localhost), not "${host}"`);
}
