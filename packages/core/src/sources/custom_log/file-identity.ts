import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/**
 * A file is known by device + inode + a fingerprint of its first bytes. The inode alone is not enough:
 * file systems reuse inodes of deleted files, and copytruncate keeps the inode while replacing the
 * content. Files shorter than `FINGERPRINT_BYTES` are compared on the bytes they have.
 */
export const FINGERPRINT_BYTES = 256;

export interface FileIdentity {
  readonly dev: string;
  readonly ino: string;
}

export function identityKey(id: FileIdentity): string {
  return `${id.dev}:${id.ino}`;
}

/** Hex SHA-256 of a prefix, as stored in checkpoints. */
export function fingerprintOf(prefix: Buffer): string {
  return createHash('sha256').update(prefix).digest('hex');
}

/** True when both prefixes are non-empty and agree on their common length. */
export function prefixesAgree(a: Buffer, b: Buffer): boolean {
  const n = Math.min(a.length, b.length);
  if (n === 0) return false;
  return a.subarray(0, n).equals(b.subarray(0, n));
}

/** True when `actual` starts with all of `expected` (an empty expectation always holds). */
export function startsWith(actual: Buffer, expected: Buffer): boolean {
  return actual.length >= expected.length && actual.subarray(0, expected.length).equals(expected);
}

/** Reads up to `FINGERPRINT_BYTES` from the start of a file (fewer when it is shorter). */
export async function readPrefix(fh: FileHandle, scratch?: Buffer): Promise<Buffer> {
  const buf = scratch ?? Buffer.allocUnsafe(FINGERPRINT_BYTES);
  let got = 0;
  // A short read is possible on some file systems: read until the prefix is full or EOF.
  while (got < FINGERPRINT_BYTES) {
    const { bytesRead } = await fh.read(buf, got, FINGERPRINT_BYTES - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return scratch ? buf.subarray(0, got) : Buffer.from(buf.subarray(0, got));
}

/** Device and inode of an open file, as strings (64-bit inodes do not fit a double). */
export async function identityOf(fh: FileHandle): Promise<FileIdentity & { size: number }> {
  const st = await fh.stat({ bigint: true });
  return { dev: st.dev.toString(), ino: st.ino.toString(), size: Number(st.size) };
}
