import { closeSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';

/** One file of a zip archive: its name inside (forward slashes) and where to read it. */
export interface ZipEntry {
  readonly name: string;
  readonly file: string;
}

/** Every file under `dir`, named relative to `base` with forward slashes, sorted (the archive is reproducible). */
export function filesUnder(dir: string, base = dir): ZipEntry[] {
  const out: ZipEntry[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...filesUnder(p, base));
    else if (d.isFile()) out.push({ name: relative(base, p).split(sep).join('/'), file: p });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** 1980-01-01 00:00 in MS-DOS date and time: a fixed timestamp, so that the same tree gives the same bytes. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/**
 * Writes a zip archive (deflate, or stored when deflate does not help) with the tools of Node alone,
 * so that the Windows package builds the same way on Linux and on Windows. No zip64: each file and
 * the archive stay under 4 GiB, and under 65,535 entries.
 */
export function writeZip(out: string, entries: readonly ZipEntry[]): void {
  if (entries.length > 0xffff) throw new Error(`${entries.length} files: more than a zip without zip64 holds`);
  const fd = openSync(out, 'w');
  const central: Buffer[] = [];
  let offset = 0;
  const write = (b: Buffer): void => {
    writeSync(fd, b);
    offset += b.length;
  };
  try {
    for (const e of entries) {
      const data = readFileSync(e.file);
      const deflated = deflateRawSync(data, { level: 9 });
      const stored = deflated.length >= data.length;
      const body = stored ? data : deflated;
      const crc = crc32(data);
      const name = Buffer.from(e.name, 'utf8');
      if (offset + 30 + name.length + body.length > 0xffffffff) throw new Error('the archive passes 4 GiB: more than a zip without zip64 holds');
      const executable = (statSync(e.file).mode & 0o111) !== 0;
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4); // version needed: 2.0
      local.writeUInt16LE(0x0800, 6); // UTF-8 names
      local.writeUInt16LE(stored ? 0 : 8, 8);
      local.writeUInt16LE(DOS_TIME, 10);
      local.writeUInt16LE(DOS_DATE, 12);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(body.length, 18);
      local.writeUInt32LE(data.length, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(0, 28);
      const at = offset;
      write(local);
      write(name);
      write(body);
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE((3 << 8) | 20, 4); // made by Unix (keeps the mode bits), 2.0
      c.writeUInt16LE(20, 6);
      c.writeUInt16LE(0x0800, 8);
      c.writeUInt16LE(stored ? 0 : 8, 10);
      c.writeUInt16LE(DOS_TIME, 12);
      c.writeUInt16LE(DOS_DATE, 14);
      c.writeUInt32LE(crc, 16);
      c.writeUInt32LE(body.length, 20);
      c.writeUInt32LE(data.length, 24);
      c.writeUInt16LE(name.length, 28);
      c.writeUInt32LE(((executable ? 0o100755 : 0o100644) << 16) >>> 0, 38);
      c.writeUInt32LE(at, 42);
      central.push(c, name);
    }
    const start = offset;
    for (const b of central) write(b);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(offset - start, 12);
    end.writeUInt32LE(start, 16);
    write(end);
  } finally {
    closeSync(fd);
  }
}
