import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * A secret value. It prints as `[redacted]` in logs, JSON and errors; `reveal()` gives the value to the
 * code that must send it.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string, readonly source: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${this.source})`;
  }
}

/**
 * A secret in config: a literal string (discouraged), `{ env: NAME }` (an environment variable) or
 * `{ file: PATH }` (the file's contents, one trailing newline removed). Resolved when the config is
 * loaded; a missing variable or unreadable file is a config error at that path.
 */
export const secretSchema = z
  .union([
    z.string().min(1),
    z.strictObject({ env: z.string().min(1).describe('Name of an environment variable holding the secret.') }),
    z.strictObject({ file: z.string().min(1).describe('Path of a file holding the secret.') }),
  ])
  .transform((ref, ctx): Secret => {
    if (typeof ref === 'string') return new Secret(ref, 'inline');
    if ('env' in ref) {
      const v = process.env[ref.env];
      if (v === undefined || v === '') {
        ctx.addIssue({ code: 'custom', message: `environment variable ${ref.env} is not set` });
        return z.NEVER;
      }
      return new Secret(v, `env:${ref.env}`);
    }
    try {
      return new Secret(readFileSync(ref.file, 'utf8').replace(/\r?\n$/, ''), `file:${ref.file}`);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `cannot read secret file ${ref.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      return z.NEVER;
    }
  })
  .describe('A secret: a string, { env: NAME } or { file: PATH }.');
