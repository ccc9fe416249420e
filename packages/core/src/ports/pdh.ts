/**
 * Windows performance counters (PDH), as the Windows `performance_counters` source uses them. On
 * Windows the real binding is koffi over pdh.dll (agent-windows); `@oma/core/testing` has a pure-TS
 * fake, and both pass the same contract suite (`@oma/core/testing/contracts`).
 */

/** PDH status codes the source tells apart (pdhmsg.h), as unsigned 32-bit numbers. */
export const PDH_STATUS = {
  CSTATUS_VALID_DATA: 0x0000_0000,
  CSTATUS_NEW_DATA: 0x0000_0001,
  MORE_DATA: 0x8000_07d2,
  /** A rate counter with one sample so far. */
  INVALID_DATA: 0xc000_0bc6,
  CSTATUS_NO_OBJECT: 0xc000_0bb8,
  CSTATUS_NO_COUNTER: 0xc000_0bb9,
  CSTATUS_NO_INSTANCE: 0x8000_07d1,
  CSTATUS_BAD_COUNTERNAME: 0xc000_0bc0,
  NO_DATA: 0x8000_07d5,
  CALC_NEGATIVE_DENOMINATOR: 0x8000_07d6,
  CALC_NEGATIVE_VALUE: 0x8000_07d8,
  CALC_NEGATIVE_TIMEBASE: 0x8000_07d7,
} as const;

/** One instance's value of a counter in the latest collection. */
export interface PdhInstanceValue {
  /** The instance name (`_Total`, `0`, `C:`); empty for a counter of a single-instance object. */
  readonly instance: string;
  readonly value: number;
}

/** The result of reading one counter after a collection. */
export interface PdhCounterReading {
  /**
   * PDH's status of the reading (`PDH_STATUS`): CSTATUS_VALID_DATA or CSTATUS_NEW_DATA with values,
   * otherwise no values (INVALID_DATA for a rate counter after its first collection, NO_DATA when a
   * wildcard matches no instance now).
   */
  readonly status: number;
  /** Values of every instance (one for a counter without a wildcard), in PDH's order. */
  readonly values: readonly PdhInstanceValue[];
}

export interface PdhCounter {
  /** The English path it was added with. */
  readonly path: string;
}

export interface PdhQuery {
  /**
   * Adds a counter by its English path (PdhAddEnglishCounterW), so that it works on localized
   * Windows: `\Processor(_Total)\% Processor Time`, `\LogicalDisk(*)\% Free Space`. Throws
   * `Win32Error` with the PDH status (CSTATUS_NO_OBJECT, CSTATUS_NO_COUNTER, CSTATUS_BAD_COUNTERNAME).
   */
  addCounter(englishPath: string): PdhCounter;
  removeCounter(counter: PdhCounter): void;
  /** Collects every counter of the query (PdhCollectQueryData). Throws `Win32Error` (NO_DATA when the query has no counter). */
  collect(): void;
  /**
   * The counter's values in the latest collection, formatted as doubles without the 100 cap
   * (PDH_FMT_DOUBLE | PDH_FMT_NOCAP100), every instance of a wildcard path as it is now.
   */
  read(counter: PdhCounter): PdhCounterReading;
  close(): void;
}

/** Opens PDH queries: the port a platform provides (agent-windows: koffi over pdh.dll). */
export interface PdhBinding {
  /** Opens a real-time query (PdhOpenQueryW). Throws `AgentError` OMA_ERR_NATIVE_LOAD when pdh.dll cannot be loaded. */
  openQuery(): PdhQuery;
}
