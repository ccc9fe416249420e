/**
 * The queries of the `windows_event_log` source: DCR `xPathQueries` (`Channel!XPath`) and MMA-style
 * channel filters, grouped per channel into what one subscription reads.
 */

/** Most XPath queries a data source may list (the data collection rule's limit). */
export const MAX_XPATH_QUERIES = 20;

/** Level names of the `channels` option, with the Windows levels each selects (Information includes 0, LogAlways, as Event Viewer does). */
export const LEVEL_VALUES = {
  Critical: [1],
  Error: [2],
  Warning: [3],
  Information: [4, 0],
  Verbose: [5],
} as const satisfies Record<string, readonly number[]>;

export type LevelName = keyof typeof LEVEL_VALUES;
export const LEVEL_NAMES = Object.keys(LEVEL_VALUES) as LevelName[];

/** One `Channel!XPath` query, split. */
export interface XPathQuery {
  readonly channel: string;
  readonly xpath: string;
}

/**
 * Splits a DCR query `Channel!XPath` at its first `!`: a channel name holds no `!` (it may hold `/`,
 * `-`, spaces), an XPath may. Returns a reason when `s` is not of that form.
 */
export function parseXPathQuery(s: string): XPathQuery | string {
  const at = s.indexOf('!');
  if (at < 0) return 'expected "<Channel>!<XPath>", such as "System!*[System[(Level=1 or Level=2)]]"';
  const channel = s.slice(0, at).trim();
  const xpath = s.slice(at + 1).trim();
  if (channel === '') return 'the channel before "!" is empty';
  if (xpath === '') return 'the XPath after "!" is empty';
  if (/[<>]/.test(channel)) return 'a channel name holds no < or >';
  return { channel, xpath };
}

/** The XPath selecting events of some levels and event ids (MMA-style `channels` option); `*` when neither is given. */
export function filterXPath(levels: readonly LevelName[] | undefined, eventIds: readonly number[] | undefined): string {
  const parts: string[] = [];
  if (levels && levels.length > 0 && levels.length < LEVEL_NAMES.length) {
    const values = [...new Set(levels.flatMap((l) => LEVEL_VALUES[l]))];
    parts.push(`(${values.map((v) => `Level=${v}`).join(' or ')})`);
  }
  if (eventIds && eventIds.length > 0) {
    parts.push(`(${[...new Set(eventIds)].map((id) => `EventID=${id}`).join(' or ')})`);
  }
  return parts.length === 0 ? '*' : `*[System[${parts.join(' and ')}]]`;
}

function escapeText(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

function escapeAttr(s: string): string {
  return s.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}

/** What one subscription reads: a channel and the query given to EvtSubscribe. */
export interface ChannelQuery {
  readonly channel: string;
  /** The channel's XPaths, each once, in the order first given. */
  readonly xpaths: readonly string[];
  /** The one XPath, or a structured query (`<QueryList>`) selecting any of them. */
  readonly query: string;
}

/**
 * Groups queries per channel (names compared ignoring case, as Windows does; the first spelling is
 * kept) and merges the XPaths of one channel into one structured query. A `*` of a channel selects
 * everything, so it alone is kept.
 */
export function groupChannelQueries(queries: readonly XPathQuery[]): ChannelQuery[] {
  const groups = new Map<string, { channel: string; xpaths: string[] }>();
  for (const q of queries) {
    const key = q.channel.toLowerCase();
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { channel: q.channel, xpaths: [] }));
    if (!g.xpaths.includes(q.xpath)) g.xpaths.push(q.xpath);
  }
  return [...groups.values()].map(({ channel, xpaths }) => {
    const kept = xpaths.includes('*') ? ['*'] : xpaths;
    return { channel, xpaths: kept, query: kept.length === 1 ? kept[0]! : structuredQuery(channel, kept) };
  });
}

/** `<QueryList><Query Id="0" Path="c"><Select Path="c">x1</Select>…</Query></QueryList>`, XML-escaped. */
export function structuredQuery(channel: string, xpaths: readonly string[]): string {
  const path = escapeAttr(channel);
  const selects = xpaths.map((x) => `<Select Path="${path}">${escapeText(x)}</Select>`).join('');
  return `<QueryList><Query Id="0" Path="${path}">${selects}</Query></QueryList>`;
}
