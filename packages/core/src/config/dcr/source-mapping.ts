/** How a source type reads its own data sources out of a data collection rule (`SourceDefinition.dcr`). */

/** A path inside one data source entry, e.g. `['facilityNames', 2]`. */
export type DcrPath = readonly (string | number)[];

/**
 * What the DCR mapper gives a source type's `fromDcr` for one data source entry. Paths are relative
 * to the entry; the mapper reports them at their place in the whole rule.
 */
export interface DcrEntryReader {
  /** The data source entry as written in the rule. */
  readonly entry: Readonly<Record<string, unknown>>;
  /** An error: the entry is not applied (the rest of the rule still is). */
  error(at: DcrPath, message: string): void;
  /** A part of the entry that is not applied. */
  warning(at: DcrPath, message: string): void;
  /** A part OMA handles its own way. */
  info(at: DcrPath, message: string): void;
  /** The entry is skipped, with a warning saying why (not an error: the rest of the rule applies). */
  skip(at: DcrPath, message: string): void;
  /** A list of strings at `key` (an error when missing and required, or when not a list of strings). */
  stringList(key: string, required: boolean): string[] | undefined;
  /**
   * A list at `key` whose entries are each one of `allowed` (matched ignoring case, returned as
   * written in `allowed`) or `*`; required.
   */
  enumList(key: string, allowed: readonly string[], label: string): string[] | undefined;
  /**
   * Sets option `name` of the source's config to `value`, read from `at` in the entry: when the
   * source's schema rejects the option, the problem is reported at that path.
   */
  set(name: string, value: unknown, at: DcrPath): void;
}

/** The DCR data source kind a source type reads, and how. */
export interface DcrSourceMapping {
  /** Key under `dataSources`, e.g. `syslog`, `performanceCounters`, `logFiles`. */
  readonly kind: string;
  /**
   * Streams OMA collects for this kind. `custom` means any `Custom-<Name>` stream: the mapper then sets
   * the option `table` to the custom table the stream goes to (from its data flow's `outputStream` when
   * that names a custom table, else from the stream).
   */
  readonly streams: readonly string[] | 'custom';
  /** Keys of an entry this kind understands (others are reported and ignored). */
  readonly keys: readonly string[];
  /** Why well-known streams of this kind that OMA does not collect are skipped. */
  readonly unsupported?: Readonly<Record<string, string>>;
  /** Reads the entry's own fields into options with `reader.set`, reporting problems through the reader. */
  fromDcr(reader: DcrEntryReader): void;
}

/**
 * Every DCR data source kind OMA knows and the source type that reads it, whether or not this build's
 * platform provides that type: a rule naming a kind of another platform is told so.
 */
export const DCR_KIND_SOURCE_TYPES: Readonly<Record<string, string>> = {
  syslog: 'syslog',
  windowsEventLogs: 'windows_event_log',
  performanceCounters: 'performance_counters',
  logFiles: 'custom_log',
  iisLogs: 'iis_log',
};
