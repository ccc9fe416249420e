import { readBody, RequestAbortedError } from '../http/body.js';
import type { Exchange } from '../http/exchange.js';
import { FaultRuleError, parseFaultRule } from '../faults.js';
import { reject, type RequestState, type ServerContext } from './context.js';

const MAX_RULE_BYTES = 64 * 1024;

/** True for 127.0.0.0/8 and ::1, including IPv4-mapped IPv6 forms. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/**
 * The admin API for tests: /_admin/faults (GET list, POST add, DELETE clear), /_admin/faults/{id}
 * (DELETE), /_admin/requests (GET the request log, DELETE clear it). Loopback clients only.
 */
export async function handleAdmin(ctx: ServerContext, ex: Exchange, state: RequestState, segments: readonly string[]): Promise<void> {
  const method = ex.req.method ?? '';
  if (!isLoopbackAddress(ex.req.socket.remoteAddress)) {
    reject(ctx, ex, state, 403, 'Forbidden', 'The admin API answers loopback clients only.');
    return;
  }
  const [what, id, ...rest] = segments;
  const notAllowed = (allow: string): void => reject(ctx, ex, state, 405, 'MethodNotAllowed', `Allowed: ${allow}.`, { allow });
  if (what === 'faults' && id === undefined) {
    if (method === 'GET') return ex.json(200, { faults: ctx.faults.list() });
    if (method === 'DELETE') {
      ctx.faults.clear();
      return ex.empty(204);
    }
    if (method !== 'POST') return notAllowed('GET, POST, DELETE');
    let read;
    try {
      read = await readBody(ex.req, MAX_RULE_BYTES);
    } catch (err) {
      if (err instanceof RequestAbortedError) return;
      throw err;
    }
    if (read.kind === 'too-large') {
      if (!read.complete) ex.closeAfterResponse();
      return reject(ctx, ex, state, 413, 'ContentLengthLimitExceeded', `A fault rule must be at most ${MAX_RULE_BYTES} bytes.`);
    }
    let input: unknown;
    try {
      input = JSON.parse(read.body.toString('utf8'));
    } catch {
      return reject(ctx, ex, state, 400, 'InvalidJson', 'The fault rule is not valid JSON.');
    }
    try {
      const ruleId = ctx.faults.add(parseFaultRule(input));
      ex.json(201, { id: ruleId });
    } catch (err) {
      if (!(err instanceof FaultRuleError)) throw err;
      reject(ctx, ex, state, 400, 'InvalidFaultRule', err.message, {}, [...err.issues]);
    }
    return;
  }
  if (what === 'faults' && id !== undefined && rest.length === 0) {
    if (method !== 'DELETE') return notAllowed('DELETE');
    if (ctx.faults.remove(id)) return ex.empty(204);
    return reject(ctx, ex, state, 404, 'NotFound', `No fault rule with id ${id.slice(0, 80)}.`);
  }
  if (what === 'requests' && id === undefined) {
    if (method === 'GET') {
      const route = ex.url.searchParams.get('route');
      const stream = ex.url.searchParams.get('stream');
      return ex.json(200, {
        requests: ctx.requests.entries({
          ...(route === 'ingest' || route === 'token' || route === 'data_collector' || route === 'imds' ? { route } : {}),
          ...(stream ? { stream } : {}),
        }),
      });
    }
    if (method === 'DELETE') {
      ctx.requests.clear();
      return ex.empty(204);
    }
    return notAllowed('GET, DELETE');
  }
  reject(ctx, ex, state, 404, 'NotFound', 'Unknown admin route.');
}
