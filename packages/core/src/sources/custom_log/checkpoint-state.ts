import { z } from 'zod';
import { FINGERPRINT_BYTES } from './file-identity.js';

export const CHECKPOINT_VERSION = 1;

/** One file's saved position. */
const fileEntrySchema = z.object({
  /** Where the file was last seen. */
  path: z.string().min(1),
  /** Where it was first found: the FilePath of its records. */
  origin: z.string().min(1),
  dev: z.string().regex(/^\d+$/),
  ino: z.string().regex(/^\d+$/),
  /** Number of first bytes the fingerprint covers. */
  fpLen: z.number().int().min(0).max(FINGERPRINT_BYTES),
  /** Hex SHA-256 of those bytes. */
  fp: z.string().regex(/^[0-9a-f]{64}$/),
  /** First byte not yet durably emitted. */
  offset: z.number().int().nonnegative(),
  /** Not read yet and not yet compared with the other files (it may be a copy of one). */
  fresh: z.boolean().optional(),
  /** Rotated away (renamed out of the patterns, deleted, or a copytruncate copy) and being drained. */
  rotated: z.boolean().optional(),
  /** Wall-clock ms when the file was first seen at a matching path. */
  seenAtMs: z.number().nonnegative().optional(),
});

const stateSchema = z.object({
  version: z.literal(CHECKPOINT_VERSION),
  files: z.array(fileEntrySchema),
  /** Wall-clock ms when the state was saved. */
  savedAtMs: z.number().nonnegative().optional(),
});

export type FileCheckpoint = z.output<typeof fileEntrySchema>;

export interface LoadedCheckpoint {
  /** True when a state was saved before: the source has run, so `startAt` no longer applies. */
  readonly known: boolean;
  readonly files: readonly FileCheckpoint[];
  /** Wall-clock ms when the state was saved, when known. */
  readonly savedAtMs?: number;
  /** Set when a state was present but unusable. */
  readonly invalid?: string;
}

/** Reads the saved state; anything unusable counts as no state (with a reason to log). */
export function parseCheckpoint(state: Record<string, unknown>): LoadedCheckpoint {
  if (Object.keys(state).length === 0) return { known: false, files: [] };
  const parsed = stateSchema.safeParse(state);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { known: false, files: [], invalid: issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid' };
  }
  const { files, savedAtMs } = parsed.data;
  return savedAtMs === undefined ? { known: true, files } : { known: true, files, savedAtMs };
}

export function serializeCheckpoint(files: readonly FileCheckpoint[], savedAtMs: number): Record<string, unknown> {
  return { version: CHECKPOINT_VERSION, files, savedAtMs };
}
