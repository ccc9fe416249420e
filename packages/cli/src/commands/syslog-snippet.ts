import { basename, dirname } from 'node:path';

/**
 * The forwarding snippets `oma syslog configure` writes for rsyslog and syslog-ng, and the temporary main
 * config each daemon validates them in. Pure text functions: no file system, no processes.
 */

export type SyslogDaemon = 'rsyslog' | 'syslog-ng';
export const SYSLOG_DAEMONS: readonly SyslogDaemon[] = ['rsyslog', 'syslog-ng'];

/** How the daemon hands messages to the agent: its TCP listener (octet-counted) or its unix datagram socket. */
export type ForwardTransport = 'tcp' | 'unix';

/** The facilities both daemons name the same way (RFC 3164 codes 0-11 and 16-23; the DCR's names without `mark`). */
export const FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;
export type Facility = (typeof FACILITIES)[number];

/** Severities, most severe first (index = RFC 5424 severity code). */
export const LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export type Level = (typeof LEVELS)[number];

const LEVEL_ALIASES: Readonly<Record<string, Level>> = {
  emergency: 'emerg', panic: 'emerg', critical: 'crit', error: 'err', warn: 'warning', informational: 'info',
};

/** The TCP port of the agent's syslog listener (the Azure Monitor Agent's), and its unix socket. */
export const DEFAULT_TCP_PORT = 28330;
export const DEFAULT_SOCKET = '/run/oma/syslog.sock';

/** Where each daemon's snippet, main config and queue files live on Debian and its derivatives. */
export const DAEMON_DEFAULTS: Readonly<Record<SyslogDaemon, { file: string; mainConfig: string; queueDir: string }>> = {
  rsyslog: { file: '/etc/rsyslog.d/95-oma.conf', mainConfig: '/etc/rsyslog.conf', queueDir: '/var/spool/rsyslog' },
  'syslog-ng': { file: '/etc/syslog-ng/conf.d/oma.conf', mainConfig: '/etc/syslog-ng/syslog-ng.conf', queueDir: '/var/lib/syslog-ng' },
};

/** The first line of every file OMA writes; `unconfigure` removes a file only when it starts with it. */
export const SNIPPET_MARKER = '# Written by `oma syslog configure`';

export interface ForwardOptions {
  readonly daemon: SyslogDaemon;
  /** The facilities forwarded; `*` for all. */
  readonly facilities: readonly Facility[] | '*';
  /** The least severe level forwarded (`warning` forwards warning and everything more severe). */
  readonly level: Level;
  readonly transport: ForwardTransport;
  /** The agent's TCP port on 127.0.0.1 (transport tcp). */
  readonly port: number;
  /** The agent's unix datagram socket (transport unix). */
  readonly socket: string;
  /** The directory of the daemon's disk queue files. */
  readonly queueDir: string;
  /** syslog-ng only: the source the `log {}` path reads (Debian's default config names it `s_src`). */
  readonly source: string;
}

export class SyslogOptionError extends Error {}

/** `auth,authpriv,local0` or `*` (also `all`). */
export function parseFacilities(text: string): readonly Facility[] | '*' {
  const words = text.split(',').map((w) => w.trim().toLowerCase()).filter((w) => w !== '');
  if (words.length === 0) throw new SyslogOptionError('--facilities: name at least one facility, or *');
  if (words.includes('*') || words.includes('all')) return '*';
  const out: Facility[] = [];
  for (const w of words) {
    if (!(FACILITIES as readonly string[]).includes(w)) throw new SyslogOptionError(`--facilities: unknown facility "${w}" (one of ${FACILITIES.join(', ')}, or *)`);
    if (!out.includes(w as Facility)) out.push(w as Facility);
  }
  return out;
}

/** A level name (`warning`, `err`…, or the DCR's `Warning`, `Error`, `Critical`, `Emergency`). */
export function parseLevel(text: string): Level {
  const w = text.trim().toLowerCase();
  if ((LEVELS as readonly string[]).includes(w)) return w as Level;
  const alias = LEVEL_ALIASES[w];
  if (alias === undefined) throw new SyslogOptionError(`--level: unknown level "${text}" (one of ${LEVELS.join(', ')})`);
  return alias;
}

/** True when `text` is a file OMA wrote. */
export function isOmaSnippet(text: string): boolean {
  return text.startsWith(SNIPPET_MARKER);
}

function header(o: ForwardOptions): string[] {
  const what = o.transport === 'tcp' ? `TCP 127.0.0.1:${o.port}` : `the unix socket ${o.socket}`;
  const facilities = o.facilities === '*' ? 'every facility' : o.facilities.join(', ');
  return [
    SNIPPET_MARKER,
    '# (OMA, the Open Monitoring Agent). `oma syslog unconfigure` removes this file; edits are overwritten.',
    `# Forwards ${facilities} at ${o.level} and above to the agent over ${what}.`,
  ];
}

/**
 * The rsyslog template: RFC 3164 framing with an RFC 3339 timestamp in the date position. `%TIMESTAMP%`
 * alone is `Mmm dd hh:mm:ss` (no year, no zone: the agent would have to guess both); `date-rfc3339` keeps
 * the year, the zone offset and the fraction. The tag (`%syslogtag%`) is passed as rsyslog received it, and
 * `sp-if-no-1st-sp` puts the space after the tag back the way the traditional forward format does.
 */
export const RSYSLOG_TEMPLATE = '<%PRI%>%TIMESTAMP:::date-rfc3339% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg%';
const RSYSLOG_TEMPLATE_NAME = 'OMA_ForwardFormat';
const QUEUE_FILE = 'oma-forward';

function rsyslogSelector(o: ForwardOptions): string {
  return `${o.facilities === '*' ? '*' : o.facilities.join(',')}.${o.level}`;
}

/**
 * The rsyslog snippet: omfwd over TCP with octet-counted framing (a message may hold line feeds), or omuxsock
 * to the agent's unix socket; either way behind a disk-assisted queue (25,000 messages in memory, spilled to
 * 32 MB files, at most 1 GB, kept over a restart) whose action retries forever every 5 s while the agent is away.
 */
export function rsyslogSnippet(o: ForwardOptions): string {
  const lines = [...header(o), '', `template(name="${RSYSLOG_TEMPLATE_NAME}" type="string" string="${RSYSLOG_TEMPLATE}")`, ''];
  if (o.transport === 'tcp') {
    lines.push(
      `${rsyslogSelector(o)} action(type="omfwd" name="oma-forward" target="127.0.0.1" port="${o.port}" protocol="tcp"`,
      `    TCP_Framing="octet-counted" template="${RSYSLOG_TEMPLATE_NAME}"`,
      `    queue.type="LinkedList" queue.filename="${QUEUE_FILE}" queue.spoolDirectory="${o.queueDir}"`,
      '    queue.size="25000" queue.maxFileSize="32m" queue.maxDiskSpace="1g" queue.saveOnShutdown="on"',
      '    action.resumeRetryCount="-1" action.resumeInterval="5")',
    );
  } else {
    // omuxsock takes no action() parameters in rsyslog 8.2x: the legacy directives set its socket and the
    // next action's queue. The queue files go to the global work directory ($WorkDirectory).
    lines.push(
      '$ModLoad omuxsock',
      `$OMUxSockSocket ${o.socket}`,
      '$ActionQueueType LinkedList',
      `$ActionQueueFileName ${QUEUE_FILE}`,
      '$ActionQueueSize 25000',
      '$ActionQueueMaxFileSize 32m',
      '$ActionQueueMaxDiskSpace 1g',
      '$ActionQueueSaveOnShutdown on',
      '$ActionResumeRetryCount -1',
      '$ActionResumeInterval 5',
      `${rsyslogSelector(o)} :omuxsock:;${RSYSLOG_TEMPLATE_NAME}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The syslog-ng snippet: a `syslog()` destination (RFC 5424 with octet-counted framing: year, zone and
 * structured data kept) with a disk buffer, or `unix-dgram()` in RFC 5424 to the agent's socket; a filter
 * on facility and level; a `log {}` path from the distribution's default source.
 */
export function syslogNgSnippet(o: ForwardOptions): string {
  const facility = o.facilities === '*' ? '' : `facility(${o.facilities.join(', ')}) and `;
  const destination = o.transport === 'tcp'
    ? [
        `destination d_oma { syslog("127.0.0.1" transport("tcp") port(${o.port}) time-reopen(5)`,
        `    disk-buffer(mem-buf-length(25000) disk-buf-size(1073741824) reliable(no) dir("${o.queueDir}"))); };`,
      ]
    : [`destination d_oma { unix-dgram("${o.socket}" flags(syslog-protocol) time-reopen(5)); };`];
  return `${[
    ...header(o),
    '',
    `filter f_oma { ${facility}level(${o.level}..emerg); };`,
    ...destination,
    `log { source(${o.source}); filter(f_oma); destination(d_oma); };`,
  ].join('\n')}\n`;
}

export function snippet(o: ForwardOptions): string {
  return o.daemon === 'rsyslog' ? rsyslogSnippet(o) : syslogNgSnippet(o);
}

function globRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
}

/** An include line of a main config: the line's index and the glob or file it names. */
interface IncludeLine {
  readonly index: number;
  readonly target: string;
}

function includeLines(daemon: SyslogDaemon, lines: readonly string[]): IncludeLine[] {
  const out: IncludeLine[] = [];
  lines.forEach((line, index) => {
    const m = daemon === 'rsyslog'
      ? /^\s*\$IncludeConfig\s+(\S+)\s*$/i.exec(line) ?? /^\s*include\s*\(\s*file\s*=\s*"([^"]+)"/i.exec(line)
      : /^\s*@include\s+"([^"]+)"/.exec(line);
    if (m?.[1] !== undefined) out.push({ index, target: m[1] });
  });
  return out;
}

function includeLine(daemon: SyslogDaemon, file: string): string {
  return daemon === 'rsyslog' ? `$IncludeConfig ${file}` : `@include "${file}"`;
}

/**
 * The main config a validation run reads: the daemon's own main config with the include that reads the
 * snippet's directory replaced by one include per file it matches today, the new snippet (`tempSnippet`)
 * taking the place of the installed one. Undefined when no include of the main config reads `snippetFile`
 * (the daemon would never see the snippet).
 */
export function validationMainConfig(
  daemon: SyslogDaemon,
  mainText: string,
  snippetFile: string,
  dirEntries: readonly string[],
  tempSnippet: string,
): string | undefined {
  const lines = mainText.split('\n');
  const dir = dirname(snippetFile);
  const name = basename(snippetFile);
  let found = false;
  for (const inc of includeLines(daemon, lines).reverse()) {
    const target = inc.target.replace(/\/+$/, '');
    let pattern: RegExp;
    if (target === snippetFile) pattern = /^$/;
    else if (dirname(target) === dir) pattern = globRegExp(basename(target));
    else if (target === dir) pattern = daemon === 'rsyslog' ? /^[^.].*$/ : /^[^.].*\.conf$/;
    else continue;
    if (target !== snippetFile && !pattern.test(name)) continue;
    found = true;
    const files = [...new Set([...dirEntries.filter((f) => pattern.test(f)), name])].sort();
    lines.splice(inc.index, 1, ...files.map((f) => includeLine(daemon, f === name ? tempSnippet : `${dir}/${f}`)));
  }
  return found ? lines.join('\n') : undefined;
}
