/** Rejects with the signal's reason as soon as it aborts; otherwise settles like `promise`. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** The signal's reason as an Error. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error('operation aborted');
  e.name = 'AbortError';
  return e;
}

export interface TimeoutSignal {
  readonly signal: AbortSignal;
  /** True once the timeout (not the parent) aborted the signal. */
  readonly timedOut: boolean;
  /** Clears the timer; call when the operation is over. */
  dispose(): void;
}

/**
 * A signal that aborts when `parent` aborts or after `ms` (reason: a `TimeoutError` with code
 * `ETIMEDOUT`). The timer is unref'd and cleared by `dispose()`.
 */
export function timeoutSignal(ms: number, parent?: AbortSignal): TimeoutSignal {
  const ac = new AbortController();
  let timedOut = false;
  const onParentAbort = (): void => ac.abort(parent ? abortReason(parent) : undefined);
  const timer = setTimeout(() => {
    timedOut = true;
    const e = new Error(`timed out after ${ms} ms`) as Error & { code: string };
    e.name = 'TimeoutError';
    e.code = 'ETIMEDOUT';
    ac.abort(e);
  }, Math.max(0, ms));
  timer.unref();
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: ac.signal,
    get timedOut() {
      return timedOut;
    },
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}
