/**
 * pdh.dll, declared once, and the real `PdhBinding` over it: real-time queries, English counter
 * paths, values formatted as doubles without the 100 cap, wildcard paths read as arrays.
 *
 * A path without a wildcard is read with PdhGetFormattedCounterValue (one value, its instance taken
 * from the path); a path with `*` with PdhGetFormattedCounterArrayW and the PDH_MORE_DATA size loop.
 * PDH_STATUS is a LONG in C; it is declared `uint32_t` so that statuses compare with `PDH_STATUS`.
 */
import {
  PDH_STATUS,
  Win32Error,
  type PdhBinding,
  type PdhCounter,
  type PdhCounterReading,
  type PdhInstanceValue,
  type PdhQuery,
} from '@oma/core';
import { declare, loadLibrary, type KoffiModule, type NativeFunction } from './load.js';

/** A PDH_HQUERY or PDH_HCOUNTER (koffi 3 gives pointers as BigInt). */
export type PdhHandle = bigint & { readonly __kind: 'PDH_HANDLE' };

/** Formats (pdh.h). */
export const PDH_FMT = { LONG: 0x0000_0100, DOUBLE: 0x0000_0200, LARGE: 0x0000_0400, NOCAP100: 0x0000_8000 } as const;
const ERROR_SUCCESS = 0;
/** PDH_CSTATUS_INVALID_DATA: the counter's data is not valid now. */
const PDH_CSTATUS_INVALID_DATA = 0xc000_0bba;

/**
 * PDH_FMT_COUNTERVALUE on x64: DWORD CStatus at 0, 4 bytes of padding, the 8-byte union (double,
 * LONGLONG, LONG, pointers) at 8; 16 bytes.
 */
export const FMT_COUNTERVALUE = { size: 16, cStatus: 0, value: 8 } as const;
/** PDH_FMT_COUNTERVALUE_ITEM_W on x64: LPWSTR szName at 0, PDH_FMT_COUNTERVALUE at 8; 24 bytes. */
export const FMT_COUNTERVALUE_ITEM = { size: 24, name: 0, cStatus: 8, value: 16 } as const;

export interface Pdh {
  readonly PdhOpenQueryW: NativeFunction<(dataSource: null, userData: number, query: [PdhHandle | null]) => number>;
  readonly PdhAddEnglishCounterW: NativeFunction<(query: PdhHandle, path: string, userData: number, counter: [PdhHandle | null]) => number>;
  readonly PdhCollectQueryData: NativeFunction<(query: PdhHandle) => number>;
  readonly PdhGetFormattedCounterValue: NativeFunction<(counter: PdhHandle, format: number, type: null, value: Buffer) => number>;
  readonly PdhGetFormattedCounterArrayW: NativeFunction<
    (counter: PdhHandle, format: number, bufferSize: Uint32Array, itemCount: Uint32Array, items: bigint | null) => number
  >;
  readonly PdhRemoveCounter: NativeFunction<(counter: PdhHandle) => number>;
  readonly PdhCloseQuery: NativeFunction<(query: PdhHandle) => number>;
}

let pdh: Pdh | undefined;

/** pdh's functions, declared on first use. */
export function loadPdh(): { pdh: Pdh; koffi: KoffiModule } {
  const { lib, koffi } = loadLibrary('pdh');
  if (pdh !== undefined) return { pdh, koffi };
  const fn = <T extends (...args: never[]) => unknown>(def: string): NativeFunction<T> => declare<T>(lib, 'pdh', def);
  pdh = {
    PdhOpenQueryW: fn('uint32_t __stdcall PdhOpenQueryW(const char16_t *szDataSource, uintptr_t dwUserData, _Out_ void **phQuery)'),
    PdhAddEnglishCounterW: fn(
      'uint32_t __stdcall PdhAddEnglishCounterW(void *hQuery, const char16_t *szFullCounterPath, uintptr_t dwUserData, _Out_ void **phCounter)',
    ),
    PdhCollectQueryData: fn('uint32_t __stdcall PdhCollectQueryData(void *hQuery)'),
    PdhGetFormattedCounterValue: fn(
      'uint32_t __stdcall PdhGetFormattedCounterValue(void *hCounter, uint32_t dwFormat, void *lpdwType, void *pValue)',
    ),
    PdhGetFormattedCounterArrayW: fn(
      'uint32_t __stdcall PdhGetFormattedCounterArrayW(void *hCounter, uint32_t dwFormat, void *lpdwBufferSize, void *lpdwItemCount, void *ItemBuffer)',
    ),
    PdhRemoveCounter: fn('uint32_t __stdcall PdhRemoveCounter(void *hCounter)'),
    PdhCloseQuery: fn('uint32_t __stdcall PdhCloseQuery(void *hQuery)'),
  };
  return { pdh, koffi };
}

export interface PdhBindingOptions {
  /**
   * How values are formatted: `double` (PDH_FMT_DOUBLE | PDH_FMT_NOCAP100, the default) or `large`
   * (PDH_FMT_LARGE | PDH_FMT_NOCAP100, 64-bit integers). Wine's PDH formats doubles wrongly, so the
   * Wine tests check values with `large`.
   */
  readonly format?: 'double' | 'large';
}

/** The real PDH binding: koffi over pdh.dll. Nothing is loaded until the first `openQuery`. */
export function createPdhBinding(options: PdhBindingOptions = {}): PdhBinding {
  return {
    openQuery(): PdhQuery {
      const { pdh: api, koffi } = loadPdh();
      return new RealPdhQuery(api, koffi, options.format ?? 'double');
    },
  };
}

/** Statuses that mean "no value now" for a counter, not a failure of the call. */
const NO_VALUE_STATUSES = new Set<number>([
  PDH_STATUS.INVALID_DATA,
  PDH_STATUS.NO_DATA,
  PDH_STATUS.CSTATUS_NO_INSTANCE,
  PDH_STATUS.CSTATUS_NO_OBJECT,
  PDH_STATUS.CSTATUS_NO_COUNTER,
  PDH_STATUS.CALC_NEGATIVE_DENOMINATOR,
  PDH_STATUS.CALC_NEGATIVE_VALUE,
  PDH_STATUS.CALC_NEGATIVE_TIMEBASE,
  PDH_CSTATUS_INVALID_DATA,
]);

function valid(status: number): boolean {
  return status === PDH_STATUS.CSTATUS_VALID_DATA || status === PDH_STATUS.CSTATUS_NEW_DATA;
}

/** The instance part of an English counter path (`\Object(Parent/Instance#1)\Counter` gives `Parent/Instance#1`); empty without one. */
export function pathInstance(path: string): string {
  // The object is the second-to-last `\` segment; a machine prefix (`\\host`) comes before it.
  const lastSlash = path.lastIndexOf('\\');
  const object = path.slice(path.lastIndexOf('\\', lastSlash - 1) + 1, lastSlash);
  const open = object.indexOf('(');
  const close = object.lastIndexOf(')');
  return open >= 0 && close > open ? object.slice(open + 1, close) : '';
}

class RealPdhCounter implements PdhCounter {
  constructor(
    readonly path: string,
    readonly handle: PdhHandle,
    readonly wildcard: boolean,
  ) {}
}

class RealPdhQuery implements PdhQuery {
  private readonly api: Pdh;
  private readonly koffi: KoffiModule;
  private readonly query: PdhHandle;
  private readonly format: number;
  private readonly large: boolean;
  private readonly counters = new Set<RealPdhCounter>();
  private readonly value = Buffer.alloc(FMT_COUNTERVALUE.size);
  private readonly size = new Uint32Array(1);
  private readonly itemCount = new Uint32Array(1);
  /** koffi-allocated memory for counter arrays: the items point at their names inside it, so it must not move. */
  private arrayMem: bigint | null = null;
  private arrayBytes = 0;
  private closed = false;

  constructor(api: Pdh, koffi: KoffiModule, format: 'double' | 'large') {
    this.api = api;
    this.koffi = koffi;
    this.large = format === 'large';
    this.format = (this.large ? PDH_FMT.LARGE : PDH_FMT.DOUBLE) | PDH_FMT.NOCAP100;
    const out: [PdhHandle | null] = [null];
    const status = api.PdhOpenQueryW(null, 0, out);
    if (status !== ERROR_SUCCESS || out[0] === null) throw new Win32Error('PdhOpenQueryW', status);
    this.query = out[0];
  }

  addCounter(englishPath: string): PdhCounter {
    this.assertOpen();
    const out: [PdhHandle | null] = [null];
    const status = this.api.PdhAddEnglishCounterW(this.query, englishPath, 0, out);
    if (status !== ERROR_SUCCESS || out[0] === null) throw new Win32Error('PdhAddEnglishCounterW', status, englishPath);
    const counter = new RealPdhCounter(englishPath, out[0], englishPath.includes('*'));
    this.counters.add(counter);
    return counter;
  }

  removeCounter(counter: PdhCounter): void {
    const c = this.own(counter);
    this.counters.delete(c);
    const status = this.api.PdhRemoveCounter(c.handle);
    if (status !== ERROR_SUCCESS) throw new Win32Error('PdhRemoveCounter', status, c.path);
  }

  collect(): void {
    this.assertOpen();
    const status = this.api.PdhCollectQueryData(this.query);
    if (status !== ERROR_SUCCESS) throw new Win32Error('PdhCollectQueryData', status);
  }

  read(counter: PdhCounter): PdhCounterReading {
    const c = this.own(counter);
    return c.wildcard ? this.readArray(c) : this.readOne(c);
  }

  private readOne(c: RealPdhCounter): PdhCounterReading {
    const status = this.api.PdhGetFormattedCounterValue(c.handle, this.format, null, this.value);
    const cStatus = this.value.readUInt32LE(FMT_COUNTERVALUE.cStatus);
    if (status !== ERROR_SUCCESS) return this.noValue(status, 'PdhGetFormattedCounterValue', c);
    if (!valid(cStatus)) return { status: cStatus, values: [] };
    return { status: cStatus, values: [{ instance: pathInstance(c.path), value: this.decodeValue(this.value, FMT_COUNTERVALUE.value) }] };
  }

  private readArray(c: RealPdhCounter): PdhCounterReading {
    const { api, koffi } = this;
    // Sizes change between calls when instances come and go: ask again while PDH says PDH_MORE_DATA.
    for (let attempt = 0; attempt < 4; attempt++) {
      this.size[0] = this.arrayBytes;
      this.itemCount[0] = 0;
      const status = api.PdhGetFormattedCounterArrayW(c.handle, this.format, this.size, this.itemCount, this.arrayBytes > 0 ? this.arrayMem : null);
      if (status === PDH_STATUS.MORE_DATA) {
        this.allocArray(this.size[0]);
        continue;
      }
      if (status !== ERROR_SUCCESS) return this.noValue(status, 'PdhGetFormattedCounterArrayW', c);
      const count = this.itemCount[0];
      if (count === 0 || this.arrayMem === null) return { status: PDH_STATUS.NO_DATA, values: [] };
      const base = this.arrayMem;
      const view = Buffer.from(koffi.view(base, this.arrayBytes));
      const values: PdhInstanceValue[] = [];
      let firstStatus: number = PDH_STATUS.NO_DATA;
      for (let i = 0; i < count; i++) {
        const at = i * FMT_COUNTERVALUE_ITEM.size;
        const cStatus = view.readUInt32LE(at + FMT_COUNTERVALUE_ITEM.cStatus);
        if (i === 0) firstStatus = cStatus;
        if (!valid(cStatus)) continue;
        const namePtr = view.readBigUInt64LE(at + FMT_COUNTERVALUE_ITEM.name);
        values.push({ instance: nameAt(view, base, namePtr), value: this.decodeValue(view, at + FMT_COUNTERVALUE_ITEM.value) });
      }
      return values.length > 0 ? { status: PDH_STATUS.CSTATUS_VALID_DATA, values } : { status: firstStatus, values: [] };
    }
    throw new Win32Error('PdhGetFormattedCounterArrayW', PDH_STATUS.MORE_DATA, c.path);
  }

  private allocArray(bytes: number): void {
    if (this.arrayMem !== null) this.koffi.free(this.arrayMem);
    this.arrayMem = null;
    this.arrayBytes = 0;
    const size = Math.max(bytes, 256);
    this.arrayMem = this.koffi.alloc('uint8_t', size) as bigint;
    this.arrayBytes = size;
  }

  private decodeValue(buf: Buffer, at: number): number {
    return this.large ? Number(buf.readBigInt64LE(at)) : buf.readDoubleLE(at);
  }

  private noValue(status: number, call: string, c: RealPdhCounter): PdhCounterReading {
    if (NO_VALUE_STATUSES.has(status)) return { status, values: [] };
    throw new Win32Error(call, status, c.path);
  }

  private own(counter: PdhCounter): RealPdhCounter {
    this.assertOpen();
    if (!(counter instanceof RealPdhCounter) || !this.counters.has(counter)) {
      throw new Win32Error('PdhQuery', PDH_STATUS.CSTATUS_NO_COUNTER, `${counter.path} is not a counter of this query`);
    }
    return counter;
  }

  private assertOpen(): void {
    if (this.closed) throw new Win32Error('PdhQuery', PDH_INVALID_HANDLE, 'the query is closed');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.counters.clear();
    try {
      // PdhCloseQuery removes the query's counters too.
      this.api.PdhCloseQuery(this.query);
    } finally {
      if (this.arrayMem !== null) this.koffi.free(this.arrayMem);
      this.arrayMem = null;
      this.arrayBytes = 0;
    }
  }
}

/** PDH_INVALID_HANDLE. */
const PDH_INVALID_HANDLE = 0xc000_0bbc;

/** The NUL-terminated UTF-16 string `ptr` points at, inside `view` (whose memory starts at `base`). */
function nameAt(view: Buffer, base: bigint, ptr: bigint): string {
  if (ptr === 0n) return '';
  const start = Number(ptr - base);
  if (start < 0 || start >= view.length) return '';
  let end = start;
  while (end + 1 < view.length && (view[end] !== 0 || view[end + 1] !== 0)) end += 2;
  return view.toString('utf16le', start, end);
}
