import { open, type FileHandle } from 'node:fs/promises';
import { WINDOWS_FS } from '../platform/host-os.js';

/** Directories of the agent's state: queued telemetry and positions are readable by the agent's user only. */
export const DIR_MODE = 0o700;
/** Files of the agent's state (see DIR_MODE). */
export const FILE_MODE = 0o600;

/** True for the errors of a full device or an exhausted quota. */
export function isNoSpace(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Reads exactly `length` bytes unless the file ends first; returns the number of bytes read. */
export async function readFully(
  fh: FileHandle,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, offset + done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Writes every byte of `buffers` at `position`, continuing after short writes. */
export async function writeFully(fh: FileHandle, buffers: Uint8Array[], position: number, total: number): Promise<void> {
  let written = 0;
  let bufs = buffers;
  while (written < total) {
    const { bytesWritten } = await fh.writev(bufs, position + written);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    written += bytesWritten;
    if (written < total) bufs = skipBytes(bufs, bytesWritten);
  }
}

function skipBytes(bufs: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  let left = n;
  while (i < bufs.length && left >= (bufs[i]?.length ?? 0)) {
    left -= bufs[i]?.length ?? 0;
    i++;
  }
  const rest = bufs.slice(i);
  const first = rest[0];
  if (first && left > 0) rest[0] = first.subarray(left);
  return rest;
}

/**
 * fsyncs a directory so that created, renamed and removed entries survive a power loss. Best effort:
 * Windows cannot open a directory this way (NTFS journals its metadata), and some file systems refuse.
 */
export async function syncDir(dir: string): Promise<void> {
  if (WINDOWS_FS) return;
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Not supported here; the entries reach the disk with the file system's own journal commit.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
