import { randomUUID } from 'node:crypto';

/** Which requests a rule applies to: ingestion, token, HTTP Data Collector, or all. */
export type FaultRoute = 'ingest' | 'token' | 'data_collector' | 'imds' | 'any';

export interface FaultMatch {
  readonly route: FaultRoute;
  /** Only ingestion requests for this stream (e.g. `Custom-Syslog`), or Data Collector requests of this Log-Type. */
  readonly stream?: string;
}

/** Answer with this status (and optional headers and body) instead of processing the request. */
export interface StatusFault {
  readonly status: number;
  /** E.g. `{ "Retry-After": "2" }` or `{ "retry-after-ms": "150" }`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A string is sent as is; anything else as JSON. Without a body, an Azure-style error body is sent. */
  readonly body?: unknown;
}

/** Delay the request, then process it normally (or apply the next matching answer rule). */
export interface LatencyFault {
  readonly latencyMs: number;
}

/** Destroy the connection without answering. */
export interface ResetFault {
  readonly reset: true;
}

export type FaultAction = StatusFault | LatencyFault | ResetFault;

export interface FaultRule {
  readonly match: FaultMatch;
  readonly action: FaultAction;
  /** How many requests the rule applies to; unlimited when absent. */
  readonly times?: number;
  /** The rule expires at this instant (epoch ms); no deadline when absent. */
  readonly untilMs?: number;
}

export interface ActiveFault extends FaultRule {
  readonly id: string;
  /** Requests the rule has been applied to so far. */
  readonly applied: number;
}

/** What to do with one request: wait `latencyMs`, then answer or reset when `terminal` is set. */
export interface FaultDecision {
  readonly latencyMs: number;
  readonly terminal?: StatusFault | ResetFault;
  /** Ids of the rules applied. */
  readonly ruleIds: readonly string[];
}

export const MAX_FAULT_LATENCY_MS = 600_000;
const MAX_RULES = 1000;

/** A fault rule that fails validation; `issues` lists every problem. */
export class FaultRuleError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`invalid fault rule: ${issues.join('; ')}`);
    this.name = 'FaultRuleError';
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;

/** Validates a rule given as untrusted JSON (the admin API) and returns it in its typed form. */
export function parseFaultRule(input: unknown): FaultRule {
  const issues: string[] = [];
  if (!isRecord(input)) throw new FaultRuleError(['rule must be an object']);
  for (const k of Object.keys(input)) if (!['match', 'action', 'times', 'untilMs'].includes(k)) issues.push(`unknown key ${k}`);
  let match: FaultMatch = { route: 'any' };
  if (!isRecord(input.match)) {
    issues.push('match must be an object');
  } else {
    const { route, stream } = input.match;
    for (const k of Object.keys(input.match)) if (!['route', 'stream'].includes(k)) issues.push(`unknown key match.${k}`);
    if (route !== 'ingest' && route !== 'token' && route !== 'data_collector' && route !== 'imds' && route !== 'any') {
      issues.push("match.route must be 'ingest', 'token', 'data_collector', 'imds' or 'any'");
    }
    if (stream !== undefined && (typeof stream !== 'string' || stream === '')) issues.push('match.stream must be a non-empty string');
    match = typeof stream === 'string' ? { route: route as FaultRoute, stream } : { route: route as FaultRoute };
  }
  let action: FaultAction = { reset: true };
  const a = input.action;
  if (!isRecord(a)) {
    issues.push('action must be an object');
  } else if ('status' in a) {
    const { status, headers, body } = a;
    for (const k of Object.keys(a)) if (!['status', 'headers', 'body'].includes(k)) issues.push(`unknown key action.${k}`);
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
      issues.push('action.status must be an integer in 200..599');
    }
    const hdrs: Record<string, string> = {};
    if (headers !== undefined) {
      if (!isRecord(headers)) {
        issues.push('action.headers must be an object');
      } else {
        for (const [k, v] of Object.entries(headers)) {
          if (!HEADER_NAME_RE.test(k)) issues.push(`action.headers: invalid header name ${JSON.stringify(k.slice(0, 40))}`);
          else if (typeof v !== 'string' && typeof v !== 'number') issues.push(`action.headers.${k} must be a string or number`);
          else if (/[\r\n]/.test(String(v))) issues.push(`action.headers.${k} must not contain line breaks`);
          else hdrs[k] = String(v);
        }
      }
    }
    action = { status: status as number, headers: hdrs, ...(body === undefined ? {} : { body }) };
  } else if ('latencyMs' in a) {
    for (const k of Object.keys(a)) if (k !== 'latencyMs') issues.push(`unknown key action.${k}`);
    const ms = a.latencyMs;
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > MAX_FAULT_LATENCY_MS) {
      issues.push(`action.latencyMs must be an integer in 0..${MAX_FAULT_LATENCY_MS}`);
    }
    action = { latencyMs: ms as number };
  } else if ('reset' in a) {
    for (const k of Object.keys(a)) if (k !== 'reset') issues.push(`unknown key action.${k}`);
    if (a.reset !== true) issues.push('action.reset must be true');
  } else {
    issues.push('action must have status, latencyMs or reset');
  }
  const { times, untilMs } = input;
  if (times !== undefined && (typeof times !== 'number' || !Number.isInteger(times) || times < 1)) issues.push('times must be a positive integer');
  if (untilMs !== undefined && (typeof untilMs !== 'number' || !Number.isFinite(untilMs))) issues.push('untilMs must be a time in epoch milliseconds');
  if (issues.length) throw new FaultRuleError(issues);
  return {
    match,
    action,
    ...(times === undefined ? {} : { times: times as number }),
    ...(untilMs === undefined ? {} : { untilMs: untilMs as number }),
  };
}

interface RuleState {
  readonly id: string;
  readonly rule: FaultRule;
  applied: number;
}

/**
 * Scripted failures for tests: rules match ingestion or token requests (optionally one stream) and answer
 * with a status, add latency, or reset the connection, for a number of requests or until a deadline.
 * Rules are evaluated in the order added: every matching latency rule adds its delay; the first matching
 * status or reset rule decides the answer. A faulted ingestion request stores nothing.
 */
export class FaultInjector {
  readonly #rules: RuleState[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** Adds a rule (validated) and returns its id. */
  add(rule: FaultRule): string {
    const parsed = parseFaultRule(rule);
    if (this.#rules.length >= MAX_RULES) throw new FaultRuleError([`at most ${MAX_RULES} rules`]);
    const id = randomUUID();
    this.#rules.push({ id, rule: parsed, applied: 0 });
    return id;
  }

  /** Shorthand: answer `status` (with headers) to the next `times` matching requests. */
  failNext(route: FaultRoute, status: number, opts: { times?: number; stream?: string; headers?: Record<string, string>; body?: unknown } = {}): string {
    return this.add({
      match: opts.stream === undefined ? { route } : { route, stream: opts.stream },
      action: { status, ...(opts.headers ? { headers: opts.headers } : {}), ...(opts.body === undefined ? {} : { body: opts.body }) },
      times: opts.times ?? 1,
    });
  }

  remove(id: string): boolean {
    const i = this.#rules.findIndex((r) => r.id === id);
    if (i < 0) return false;
    this.#rules.splice(i, 1);
    return true;
  }

  clear(): void {
    this.#rules.length = 0;
  }

  list(): ActiveFault[] {
    this.#expire();
    return this.#rules.map((r) => ({ ...r.rule, id: r.id, applied: r.applied }));
  }

  #expire(): void {
    const now = this.now();
    for (let i = this.#rules.length - 1; i >= 0; i--) {
      const r = this.#rules[i]!;
      if ((r.rule.untilMs !== undefined && now >= r.rule.untilMs) || (r.rule.times !== undefined && r.applied >= r.rule.times)) {
        this.#rules.splice(i, 1);
      }
    }
  }

  /** Decides the faults of one request and counts them against their rules. */
  take(route: 'ingest' | 'token' | 'data_collector' | 'imds', stream?: string): FaultDecision {
    this.#expire();
    let latencyMs = 0;
    let terminal: StatusFault | ResetFault | undefined;
    const ruleIds: string[] = [];
    for (const r of this.#rules) {
      const m = r.rule.match;
      if (m.route !== 'any' && m.route !== route) continue;
      if (m.stream !== undefined && m.stream !== stream) continue;
      const a = r.rule.action;
      if ('latencyMs' in a) {
        latencyMs += a.latencyMs;
      } else if (!terminal) {
        terminal = a;
      } else {
        continue;
      }
      r.applied++;
      ruleIds.push(r.id);
    }
    this.#expire();
    return terminal ? { latencyMs, terminal, ruleIds } : { latencyMs, ruleIds };
  }
}
