import type { FsSpace, ProcFiles } from './snapshot.js';

function enoent(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT', path });
}

/**
 * A scriptable in-memory /proc, /sys and statfs for tests: set a file's text, bytes or directory
 * listing, or a mount's statfs answer; anything not set is missing (ENOENT). Records every read.
 */
export class FakeProcFiles implements ProcFiles {
  private readonly texts = new Map<string, string>();
  private readonly bytes = new Map<string, Uint8Array>();
  private readonly dirs = new Map<string, string[]>();
  private readonly spaces = new Map<string, FsSpace>();
  readonly reads: string[] = [];

  text(path: string, content: string | undefined): this {
    if (content === undefined) this.texts.delete(path);
    else this.texts.set(path, content);
    return this;
  }

  binary(path: string, content: Uint8Array | undefined): this {
    if (content === undefined) this.bytes.delete(path);
    else this.bytes.set(path, content);
    return this;
  }

  dir(path: string, names: readonly string[] | undefined): this {
    if (names === undefined) this.dirs.delete(path);
    else this.dirs.set(path, [...names]);
    return this;
  }

  space(mountPoint: string, space: FsSpace | undefined): this {
    if (space === undefined) this.spaces.delete(mountPoint);
    else this.spaces.set(mountPoint, space);
    return this;
  }

  readText(path: string): Promise<string> {
    this.reads.push(path);
    const t = this.texts.get(path);
    return t === undefined ? Promise.reject(enoent(path)) : Promise.resolve(t);
  }

  readBytes(path: string): Promise<Uint8Array> {
    this.reads.push(path);
    const b = this.bytes.get(path);
    return b === undefined ? Promise.reject(enoent(path)) : Promise.resolve(b);
  }

  readdir(path: string): Promise<string[]> {
    this.reads.push(path);
    const d = this.dirs.get(path);
    return d === undefined ? Promise.reject(enoent(path)) : Promise.resolve([...d]);
  }

  statfs(path: string): Promise<FsSpace> {
    this.reads.push(`statfs:${path}`);
    const s = this.spaces.get(path);
    return s === undefined ? Promise.reject(enoent(path)) : Promise.resolve(s);
  }
}
