/**
 * The frame of a scenario script run under `wine node.exe`: reads its arguments from the JSON file
 * named first on the command line and writes `{ ok, result | error }` to the file named second
 * (node.exe's stdout is not usable on a Unix pipe under Wine).
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** An error as a scenario records it: enough to assert on its code. */
export interface RecordedError {
  readonly message: string;
  readonly code?: string;
  readonly win32?: number;
  readonly call?: string;
}

export function recordError(err: unknown): RecordedError {
  const e = err as Partial<RecordedError> & { message?: string };
  return {
    message: String(e.message ?? err),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(typeof e.win32 === 'number' ? { win32: e.win32 } : {}),
    ...(typeof e.call === 'string' ? { call: e.call } : {}),
  };
}

/** Calls `fn` and records what it returns or throws. */
export function attempt<T>(fn: () => T): { value?: T; error?: RecordedError } {
  try {
    return { value: fn() };
  } catch (err) {
    return { error: recordError(err) };
  }
}

export function scenario<A, R>(fn: (args: A) => Promise<R>): void {
  const [argsFile, resultFile] = process.argv.slice(2);
  if (argsFile === undefined || resultFile === undefined) throw new Error('usage: node <scenario>.js <args.json> <result.json>');
  const args = JSON.parse(readFileSync(argsFile, 'utf8')) as A;
  fn(args).then(
    (result) => writeFileSync(resultFile, JSON.stringify({ ok: true, result })),
    (err: unknown) => {
      const e = err as Error;
      writeFileSync(resultFile, JSON.stringify({ ok: false, error: { ...recordError(err), stack: e.stack } }));
      process.exitCode = 1;
    },
  );
}
