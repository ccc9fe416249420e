import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from './crc32c.js';
import { FILE_MODE, errnoCode, syncDir } from './fs-util.js';

export const LEDGER_FILE = 'ledger.json';
const LEDGER_VERSION = 1;
/** Known-lost ranges kept in the ledger at most; older ones may be counted again after a restart. */
export const MAX_LEDGER_LOST_RANGES = 256;

/** An inclusive range of sequence numbers. */
export type SeqRange = readonly [number, number];

/** The queue's positions, persisted (atomically, coalesced) next to the segments. */
export interface LedgerState {
  /** Every seq <= this is acknowledged (or gone). */
  readonly ackedThrough: number;
  /** Highest seq whose append resolved: records up to here were promised to be stored. */
  readonly storedThrough: number;
  /** The next seq to assign. */
  readonly nextSeq: number;
  /** Seqs above `ackedThrough` known to be missing: reported lost, or never stored (not to count again). */
  readonly lost: readonly SeqRange[];
}

export type LedgerReadResult =
  | { readonly kind: 'ok'; readonly state: LedgerState }
  | { readonly kind: 'missing' }
  | { readonly kind: 'corrupt'; readonly reason: string };

function checksum(s: Omit<LedgerState, 'lost'> & { lost: readonly SeqRange[] }): number {
  const text = `${LEDGER_VERSION}:${s.ackedThrough}:${s.storedThrough}:${s.nextSeq}:${s.lost.map((r) => `${r[0]}-${r[1]}`).join(',')}`;
  return crc32c(Buffer.from(text, 'utf8'));
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export async function readLedger(dir: string): Promise<LedgerReadResult> {
  let text: string;
  try {
    text = await readFile(join(dir, LEDGER_FILE), 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', reason: `unreadable (${errnoCode(err) ?? 'error'})` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { kind: 'corrupt', reason: 'not JSON' };
  }
  if (typeof doc !== 'object' || doc === null) return { kind: 'corrupt', reason: 'not an object' };
  const d = doc as Record<string, unknown>;
  if (d.version !== LEDGER_VERSION) return { kind: 'corrupt', reason: 'unknown version' };
  const { ackedThrough, storedThrough, nextSeq, lost, crc } = d;
  if (!isSeq(ackedThrough) || !isSeq(storedThrough) || !isSeq(nextSeq) || nextSeq < 1) {
    return { kind: 'corrupt', reason: 'bad positions' };
  }
  if (!Array.isArray(lost) || !lost.every((r) => Array.isArray(r) && r.length === 2 && isSeq(r[0]) && isSeq(r[1]) && r[0] <= r[1])) {
    return { kind: 'corrupt', reason: 'bad lost ranges' };
  }
  const state: LedgerState = { ackedThrough, storedThrough, nextSeq, lost: lost as SeqRange[] };
  if (crc !== checksum(state)) return { kind: 'corrupt', reason: 'checksum mismatch' };
  return { kind: 'ok', state };
}

/** Replaces the ledger atomically: write a temp file, fsync it (when `sync`), rename, fsync the directory. */
export async function writeLedger(dir: string, state: LedgerState, sync: boolean): Promise<void> {
  const file = join(dir, LEDGER_FILE);
  const tmp = `${file}.tmp`;
  const body = JSON.stringify({
    version: LEDGER_VERSION,
    ackedThrough: state.ackedThrough,
    storedThrough: state.storedThrough,
    nextSeq: state.nextSeq,
    lost: state.lost,
    crc: checksum(state),
  });
  const fh = await open(tmp, 'w', FILE_MODE);
  try {
    await fh.writeFile(body, 'utf8');
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  if (sync) await syncDir(dir);
}

export function sameLedger(a: LedgerState | undefined, b: LedgerState): boolean {
  return (
    a !== undefined &&
    a.ackedThrough === b.ackedThrough &&
    a.storedThrough === b.storedThrough &&
    a.nextSeq === b.nextSeq &&
    a.lost.length === b.lost.length &&
    a.lost.every((r, i) => r[0] === b.lost[i]?.[0] && r[1] === b.lost[i]?.[1])
  );
}
