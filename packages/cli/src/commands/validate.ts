import { type ConfigIssue, loadAgentConfig } from '@oma/core';
import type { Platform } from '../platform.js';
import { buildRegistry } from '../registry.js';

/** Prints a ConfigError's problems, one per line with its path. Returns false for other errors. */
export function printConfigError(err: unknown, out: NodeJS.WritableStream): boolean {
  const e = err as { code?: string; message?: string; issues?: readonly ConfigIssue[] };
  if (e?.code !== 'OMA_ERR_CONFIG_INVALID') return false;
  out.write(`${e.message}\n`);
  for (const i of e.issues ?? []) out.write(`  ${i.path}: ${i.message}\n`);
  return true;
}

/** `oma validate --config FILE`: 0 when valid, 2 when not (every problem printed with its path). */
export async function validateConfig(file: string, platform: Platform, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  try {
    const cfg = await loadAgentConfig(file, buildRegistry(platform));
    out.write(`${file}: valid (${cfg.sources.length} sources, ${cfg.destinations.length} destinations)\n`);
    return 0;
  } catch (e) {
    if (printConfigError(e, err)) return 2;
    throw e;
  }
}
