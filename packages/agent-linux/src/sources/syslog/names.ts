/**
 * Syslog facilities and severities: the keywords written to the Syslog table and the names a data
 * collection rule uses (`facilityNames`, `logLevels`).
 */

/** Facility names of a DCR's `facilityNames` (docs: `*` means all of them). */
export const SYSLOG_FACILITIES: readonly string[] = [
  'auth', 'authpriv', 'cron', 'daemon', 'mark', 'kern',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
  'lpr', 'mail', 'news', 'syslog', 'user', 'uucp', 'ftp', 'ntp', 'audit', 'alert', 'clock',
];

/** Level names of a DCR's `logLevels`, from the least to the most severe. */
export const SYSLOG_LEVELS: readonly string[] = ['Debug', 'Info', 'Notice', 'Warning', 'Error', 'Critical', 'Alert', 'Emergency'];

/**
 * The Facility keyword of each facility code of a PRI (0 to 23). Codes 13 to 15 carry the names a DCR
 * gives them (audit, alert, clock), as rsyslog does.
 */
export const FACILITY_KEYWORDS: readonly string[] = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'audit', 'alert', 'clock',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
];

/** The SeverityLevel keyword of each severity code of a PRI (0 to 7). */
export const SEVERITY_KEYWORDS: readonly string[] = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

/** Severity code of each DCR level name. */
const LEVEL_CODES: Readonly<Record<string, number>> = {
  Emergency: 0, Alert: 1, Critical: 2, Error: 3, Warning: 4, Notice: 5, Info: 6, Debug: 7,
};

/**
 * Bit `f` set for each facility code `f` the names select (`*`: all 24). `mark` is rsyslog's own
 * periodic marker, which no PRI carries: it selects nothing received over a socket.
 */
export function facilityMask(names: readonly string[]): number {
  let mask = 0;
  for (const n of names) {
    if (n === '*') return 0xffffff;
    const code = FACILITY_KEYWORDS.indexOf(n);
    if (code >= 0) mask |= 1 << code;
  }
  return mask;
}

/**
 * Bit `s` set for each severity code `s` the names select. A DCR lists every level it collects (the
 * portal's "minimum level" writes that level and each one above it), so a level is selected exactly
 * when it is listed; `*` selects all eight.
 */
export function levelMask(names: readonly string[]): number {
  let mask = 0;
  for (const n of names) {
    if (n === '*') return 0xff;
    const code = LEVEL_CODES[n];
    if (code !== undefined) mask |= 1 << code;
  }
  return mask;
}
