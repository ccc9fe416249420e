/** Syslog severity keywords by numeric level (RFC 5424 §6.2.1), as the Syslog table's SeverityLevel holds them. */
export const SEVERITY_KEYWORDS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export type SeverityKeyword = (typeof SEVERITY_KEYWORDS)[number];

/** Syslog facility keywords by number (RFC 5424 §6.2.1 and Linux's syslog.h), as the Syslog table's Facility holds them. */
export const FACILITY_KEYWORDS: readonly string[] = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'audit', 'alert', 'clock',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
];

/** Priority of an entry without PRIORITY (what journald gives lines on a service's stdout by default). */
export const DEFAULT_PRIORITY = 6;
