import type { z } from 'zod';
import type { ConfigIssue } from '../errors.js';

/**
 * zod error map for config files: a value that is missing says "required" (with what is expected)
 * rather than zod's "expected string, received undefined". Messages a schema sets itself win.
 */
export function configErrorMap(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.input !== undefined) return undefined;
  switch (issue.code) {
    case 'invalid_type':
      return `required (${issue.expected === 'object' ? 'a mapping' : issue.expected === 'array' ? 'a list' : `a ${issue.expected}`})`;
    case 'invalid_value':
      return `required (${issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`})`;
    case 'invalid_union':
      return 'required';
    default:
      return undefined;
  }
}

/** Parse parameters for config schemas: `schema.safeParse(doc, CONFIG_PARSE)`. */
export const CONFIG_PARSE = { error: configErrorMap } as const;

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
