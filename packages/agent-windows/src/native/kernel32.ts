/**
 * kernel32.dll, declared once: the signal events of the Event Log subscriptions and the last error.
 *
 * GetLastError through koffi is reliable: koffi (3.2 and later) saves the thread's last-error value
 * right after every foreign call and restores it right before the next one, so the value read by
 * `GetLastError()` called through koffi is the one the previous koffi call on this thread left, not
 * one that Node or V8 set in between. For `.async` calls the value lives on koffi's worker thread,
 * so an async call's failure is reported by its return value only.
 */
import { Win32Error } from '@oma/core';
import { declare, loadLibrary, type NativeFunction } from './load.js';

/** A kernel object handle (koffi 3 gives pointers as BigInt). */
export type KernelHandle = bigint & { readonly __kind: 'HANDLE' };

/** WaitForSingleObject's results (winbase.h). */
export const WAIT = { OBJECT_0: 0x0000_0000, TIMEOUT: 0x0000_0102, FAILED: 0xffff_ffff } as const;

export interface Kernel32 {
  readonly CreateEventW: NativeFunction<(attrs: null, manualReset: number, initialState: number, name: null) => KernelHandle | null>;
  readonly SetEvent: NativeFunction<(event: KernelHandle) => number>;
  readonly ResetEvent: NativeFunction<(event: KernelHandle) => number>;
  readonly CloseHandle: NativeFunction<(handle: KernelHandle) => number>;
  /** Only through `.async` (a koffi worker thread) with a bounded timeout: never on the JS thread. */
  readonly WaitForSingleObject: NativeFunction<(handle: KernelHandle, timeoutMs: number) => number>;
  readonly GetLastError: NativeFunction<() => number>;
  /** Frees memory a Windows function allocated with LocalAlloc (ConvertStringSidToSidW's SID). */
  readonly LocalFree: NativeFunction<(mem: bigint) => bigint | null>;
  readonly RegisterWaitForSingleObject: NativeFunction<
    (waitObject: [KernelHandle | null], object: KernelHandle, callback: bigint, context: bigint, timeoutMs: number, flags: number) => number
  >;
  readonly UnregisterWaitEx: NativeFunction<(waitHandle: KernelHandle, completionEvent: null) => number>;
}

/** RegisterWaitForSingleObject flags (winnt.h). */
const WT_EXECUTEONLYONCE = 0x0000_0008;

let kernel32: Kernel32 | undefined;

/** kernel32's functions, declared on first use. */
export function loadKernel32(): Kernel32 {
  if (kernel32 !== undefined) return kernel32;
  const { lib } = loadLibrary('kernel32');
  const fn = <T extends (...args: never[]) => unknown>(def: string): NativeFunction<T> => declare<T>(lib, 'kernel32', def);
  kernel32 = {
    CreateEventW: fn('void * __stdcall CreateEventW(void *lpEventAttributes, int bManualReset, int bInitialState, const char16_t *lpName)'),
    SetEvent: fn('int __stdcall SetEvent(void *hEvent)'),
    ResetEvent: fn('int __stdcall ResetEvent(void *hEvent)'),
    CloseHandle: fn('int __stdcall CloseHandle(void *hObject)'),
    WaitForSingleObject: fn('uint32_t __stdcall WaitForSingleObject(void *hHandle, uint32_t dwMilliseconds)'),
    GetLastError: fn('uint32_t __stdcall GetLastError()'),
    LocalFree: fn('void * __stdcall LocalFree(void *hMem)'),
    RegisterWaitForSingleObject: fn(
      'int __stdcall RegisterWaitForSingleObject(_Out_ void **phNewWaitObject, void *hObject, void *Callback, void *Context, uint32_t dwMilliseconds, uint32_t dwFlags)',
    ),
    UnregisterWaitEx: fn('int __stdcall UnregisterWaitEx(void *WaitHandle, void *CompletionEvent)'),
  };
  return kernel32;
}

/**
 * Waits on kernel objects with the Windows thread pool (RegisterWaitForSingleObject, one shot), so
 * that no thread of Node's (neither the JS thread nor libuv's pool) is held by a wait. The thread
 * pool calls one koffi-registered callback, which koffi queues to the JS thread; the callback finds
 * the waiter by the context number. That callback is registered once per process and never
 * unregistered, so a late call for a cancelled wait finds no waiter and does nothing.
 */
class ThreadPoolWaits {
  private readonly pending = new Map<number, { wait: KernelHandle; done: (timedOut: boolean) => void }>();
  private nextId = 1;
  private readonly callback: bigint;

  constructor() {
    const { koffi } = loadLibrary('kernel32');
    const proto = koffi.proto('void __stdcall OmaWaitOrTimerCallback(void *lpParameter, uint8_t TimerOrWaitFired)');
    this.callback = koffi.register((context: bigint | null, timerOrWaitFired: number) => {
      this.fired(context === null ? 0 : Number(context), timerOrWaitFired !== 0);
    }, koffi.pointer(proto));
  }

  /** Calls `done(timedOut)` once `object` is signaled or `timeoutMs` passed; returns the cancel function. */
  wait(object: KernelHandle, timeoutMs: number, done: (timedOut: boolean) => void): () => void {
    const k = loadKernel32();
    const id = this.nextId++;
    const out: [KernelHandle | null] = [null];
    if (k.RegisterWaitForSingleObject(out, object, this.callback, BigInt(id), timeoutMs, WT_EXECUTEONLYONCE) === 0 || out[0] === null) {
      throw lastError('RegisterWaitForSingleObject');
    }
    this.pending.set(id, { wait: out[0], done });
    return () => this.cancel(id);
  }

  private fired(id: number, timedOut: boolean): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.pending.delete(id);
    // A one-shot wait is still unregistered to free it; without a completion event this does not
    // wait for the callback under way (this one), so it cannot deadlock with the JS thread.
    loadKernel32().UnregisterWaitEx(entry.wait, null);
    entry.done(timedOut);
  }

  private cancel(id: number): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.pending.delete(id);
    loadKernel32().UnregisterWaitEx(entry.wait, null);
  }
}

let threadPoolWaits: ThreadPoolWaits | undefined;

function waits(): ThreadPoolWaits {
  threadPoolWaits ??= new ThreadPoolWaits();
  return threadPoolWaits;
}

/** The last error of the previous koffi call on this thread, as a `Win32Error` for `call`. */
export function lastError(call: string): Win32Error {
  return new Win32Error(call, loadKernel32().GetLastError());
}

/** A manual-reset event, initially signaled (so a first wait returns at once), closed by `close()`. */
export class SignalEvent {
  readonly handle: KernelHandle;
  private closed = false;

  constructor() {
    const k = loadKernel32();
    const h = k.CreateEventW(null, 1, 1, null);
    if (h === null || h === 0n) throw lastError('CreateEventW');
    this.handle = h;
  }

  set(): void {
    if (!this.closed) loadKernel32().SetEvent(this.handle);
  }

  reset(): void {
    if (!this.closed) loadKernel32().ResetEvent(this.handle);
  }

  /**
   * Waits for the event in the Windows thread pool, at most `timeoutMs`; never blocks the JS thread
   * nor libuv's threads. `done(timedOut)` runs on the JS thread unless the returned cancel function
   * ran first.
   */
  waitInThreadPool(timeoutMs: number, done: (timedOut: boolean) => void): () => void {
    return waits().wait(this.handle, timeoutMs, done);
  }

  /**
   * Waits for the event on a koffi worker thread (WaitForSingleObject `.async`, a libuv pool
   * thread), at most `timeoutMs`; never blocks the JS thread. Resolves the WAIT_* result.
   */
  waitAsync(timeoutMs: number): Promise<number> {
    return new Promise((resolve) => {
      loadKernel32().WaitForSingleObject.async(this.handle, timeoutMs, (err: unknown, result: number) => {
        resolve(err === null || err === undefined ? result : WAIT.FAILED);
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    loadKernel32().CloseHandle(this.handle);
  }
}
