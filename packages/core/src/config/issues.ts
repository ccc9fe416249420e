import type { z } from 'zod';
import type { ConfigIssue } from '../errors.js';

/** Formats a zod path as `a.b[0].c`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      out += /^[A-Za-z_$][\w$-]*$/.test(s) ? (out ? `.${s}` : s) : `[${JSON.stringify(s)}]`;
    }
  }
  return out || '(root)';
}

/** Turns zod issues into config issues, prefixing each path. */
export function zodIssues(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'invalid_union' && 'errors' in issue && Array.isArray(issue.errors)) {
      // Report the branch that got furthest rather than "invalid input".
      const branches = issue.errors as z.core.$ZodIssue[][];
      const best = branches.reduce<z.core.$ZodIssue[] | undefined>(
        (a, b) => (a === undefined || deepest(b) > deepest(a) ? b : a),
        undefined,
      );
      if (best && best.length > 0 && deepest(best) > 0) {
        for (const sub of best) {
          out.push({ path: formatPath([...prefix, ...issue.path, ...sub.path]), message: describe(sub) });
        }
        continue;
      }
    }
    out.push({ path: formatPath([...prefix, ...issue.path]), message: describe(issue) });
  }
  return out;
}

function deepest(issues: z.core.$ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_key' && issue.issues.length > 0) {
    return `bad id: ${issue.issues.map((i) => i.message).join('; ')}`;
  }
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}`;
  }
  return issue.message;
}
