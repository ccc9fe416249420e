/**
 * A small reader of event XML as EvtRender(EvtRenderEventXml) writes it: one pass, no DOM, no
 * dependency. It knows the event schema (System, EventData, UserData) and nothing more: namespaces are
 * ignored (local names), attributes may use either quote, text is decoded (the five named entities,
 * `&#n;`, `&#xn;`, CDATA); comments and processing instructions are skipped.
 */

/** One value of the event's payload: a `<Data>` of EventData (with its Name), or a leaf element of UserData. */
export interface EventDataValue {
  readonly name: string | undefined;
  readonly value: string;
}

/** The fields of one event that the mapping uses; a field missing from the XML is undefined. */
export interface EventXmlFields {
  provider?: string;
  providerGuid?: string;
  eventSourceName?: string;
  /** EventID as written (Qualifiers not applied). */
  eventId?: number;
  qualifiers?: number;
  version?: number;
  level?: number;
  task?: number;
  opcode?: number;
  keywords?: string;
  /** TimeCreated/@SystemTime as written. */
  systemTime?: string;
  recordId?: number;
  activityId?: string;
  relatedActivityId?: string;
  processId?: number;
  threadId?: number;
  channel?: string;
  computer?: string;
  /** Security/@UserID: a SID. */
  userId?: string;
  /** Which payload element the event has, if any. */
  payload?: 'EventData' | 'UserData';
  /** The payload element's XML as it is in the event (`<EventData>…</EventData>`). */
  payloadXml?: string;
  /** EventData's `<Data>` values, or UserData's leaf elements, in order. */
  data: EventDataValue[];
  /** EventData's `<Binary>` (hex), if any. */
  binary?: string;
}

const ENTITY_RE = /&(?:(lt|gt|amp|quot|apos)|#(\d+)|#x([0-9a-fA-F]+));/g;
const NAMED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes the entities of XML text; an unknown or malformed one stays as written. */
export function decodeXmlText(s: string): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(ENTITY_RE, (all, named: string | undefined, dec: string | undefined, hex: string | undefined) => {
    if (named !== undefined) return NAMED[named]!;
    const cp = dec !== undefined ? parseInt(dec, 10) : parseInt(hex!, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : all;
  });
}

const Ch = {
  GT: 0x3e,
  SLASH: 0x2f,
  BANG: 0x21,
  QUESTION: 0x3f,
  EQ: 0x3d,
  SQUOTE: 0x27,
  DQUOTE: 0x22,
  COLON: 0x3a,
} as const;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** A start tag: its local name, where its attributes are, whether it closes itself. */
interface Tag {
  name: string;
  attrsFrom: number;
  attrsTo: number;
  selfClosing: boolean;
  /** Position after the tag's `>`. */
  end: number;
}

/** Where the next `'` and `"` are (-1: none left), moved forward as the reader goes: each is searched for once per occurrence. */
interface Quotes {
  single: number;
  double: number;
}

/** The first quote at or after `from`, or -1. */
function nextQuote(xml: string, from: number, q: Quotes): number {
  if (q.single >= 0 && q.single < from) q.single = xml.indexOf("'", from);
  if (q.double >= 0 && q.double < from) q.double = xml.indexOf('"', from);
  if (q.single < 0) return q.double;
  if (q.double < 0) return q.single;
  return q.single < q.double ? q.single : q.double;
}

/** Reads the start tag at `lt` (`xml[lt]` is `<`); undefined when the tag never ends. */
function readStartTag(xml: string, lt: number, quotes: Quotes): Tag | undefined {
  const n = xml.length;
  let i = lt + 1;
  const nameFrom = i;
  let colon = -1;
  for (; i < n; i++) {
    const c = xml.charCodeAt(i);
    if (c === Ch.GT || c === Ch.SLASH || isSpace(c)) break;
    if (c === Ch.COLON) colon = i;
  }
  const name = xml.slice(colon >= 0 ? colon + 1 : nameFrom, i);
  const attrsFrom = i;
  // The tag ends at the first `>` outside quoted attribute values.
  let p = i;
  let gt: number;
  for (;;) {
    gt = xml.indexOf('>', p);
    if (gt < 0) return undefined;
    const q = nextQuote(xml, p, quotes);
    if (q < 0 || q > gt) break;
    const close = xml.indexOf(xml.charCodeAt(q) === Ch.SQUOTE ? "'" : '"', q + 1);
    if (close < 0) return undefined;
    p = close + 1;
  }
  const selfClosing = xml.charCodeAt(gt - 1) === Ch.SLASH;
  return { name, attrsFrom, attrsTo: selfClosing ? gt - 1 : gt, selfClosing, end: gt + 1 };
}

/** The attribute `readAttr` read last. */
interface AttrScratch {
  name: string;
  xmlns: boolean;
  valueFrom: number;
  valueTo: number;
}

const scratch: AttrScratch = { name: '', xmlns: false, valueFrom: 0, valueTo: 0 };

/**
 * Reads the attribute at `i` in a tag's attribute text (up to `to`) into `scratch` (local name, whether
 * it declares a namespace, value span); returns the position after it, or -1 when there is none.
 */
function readAttr(xml: string, i: number, to: number): number {
  const eq = xml.indexOf('=', i);
  if (eq < 0 || eq >= to) return -1;
  let a = i;
  while (a < eq && isSpace(xml.charCodeAt(a))) a++;
  let b = eq;
  while (b > a && isSpace(xml.charCodeAt(b - 1))) b--;
  let v = eq + 1;
  while (v < to && isSpace(xml.charCodeAt(v))) v++;
  const qc = xml.charCodeAt(v);
  if (qc !== Ch.SQUOTE && qc !== Ch.DQUOTE) return -1;
  const close = xml.indexOf(qc === Ch.SQUOTE ? "'" : '"', v + 1);
  if (close < 0 || close > to) return -1;
  let colon = -1;
  for (let k = a; k < b; k++) if (xml.charCodeAt(k) === Ch.COLON) colon = k;
  scratch.name = xml.slice(colon >= 0 ? colon + 1 : a, b);
  scratch.xmlns = colon >= 0 ? xml.startsWith('xmlns:', a) : scratch.name === 'xmlns';
  scratch.valueFrom = v + 1;
  scratch.valueTo = close;
  return close + 1;
}

/** Calls `each(localName, decodedValue)` for every attribute of a tag (xmlns declarations skipped). */
function forEachAttr(xml: string, from: number, to: number, each: (name: string, value: string) => void): void {
  for (let i = readAttr(xml, from, to); i >= 0; i = readAttr(xml, i, to)) {
    if (!scratch.xmlns) each(scratch.name, decodeXmlText(xml.slice(scratch.valueFrom, scratch.valueTo)));
  }
}

/** The decoded value of a tag's attribute `want` (local name), if it has one. */
function attr(xml: string, tag: Tag, want: string): string | undefined {
  const to = tag.attrsTo;
  for (let i = readAttr(xml, tag.attrsFrom, to); i >= 0; i = readAttr(xml, i, to)) {
    if (!scratch.xmlns && scratch.name === want) return decodeXmlText(xml.slice(scratch.valueFrom, scratch.valueTo));
  }
  return undefined;
}

function toInt(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  let i = 0;
  let end = s.length;
  while (i < end && isSpace(s.charCodeAt(i))) i++;
  while (end > i && isSpace(s.charCodeAt(end - 1))) end--;
  if (i === end) return undefined;
  let v = 0;
  if (end - i > 2 && s.charCodeAt(i) === 0x30 && (s.charCodeAt(i + 1) | 0x20) === 0x78) {
    for (let k = i + 2; k < end; k++) {
      const c = s.charCodeAt(k);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
      if (d < 0) return undefined;
      v = v * 16 + d;
    }
  } else {
    const neg = s.charCodeAt(i) === 0x2d;
    for (let k = neg ? i + 1 : i; k < end; k++) {
      const d = s.charCodeAt(k) - 0x30;
      if (d < 0 || d > 9) return undefined;
      v = v * 10 + d;
    }
    if (neg) {
      if (end - i === 1) return undefined;
      v = -v;
    }
  }
  return Number.isSafeInteger(v) ? v : undefined;
}

/** Frame of an element being read. */
interface Frame {
  readonly name: string;
  /** Position of the element's `<`. */
  readonly start: number;
  /** The `Name` attribute of an EventData `<Data>`. */
  readonly dataName: string | undefined;
  text: string;
  hasChild: boolean;
}

/**
 * Reads one event's XML. Never throws: what cannot be read (a tag that never ends, an element left
 * open) is left out of the result.
 */
export function readEventXml(xml: string): EventXmlFields {
  const out: EventXmlFields = { data: [] };
  const stack: Frame[] = [];
  const n = xml.length;
  const quotes: Quotes = { single: xml.indexOf("'"), double: xml.indexOf('"') };
  let i = 0;
  while (i < n) {
    const lt = xml.indexOf('<', i);
    const top = stack.length > 0 ? stack[stack.length - 1]! : undefined;
    if (lt < 0) {
      if (top) top.text += decodeXmlText(xml.slice(i));
      break;
    }
    if (lt > i && top) top.text += decodeXmlText(xml.slice(i, lt));
    const c1 = xml.charCodeAt(lt + 1);
    if (c1 === Ch.BANG) {
      if (xml.startsWith('<![CDATA[', lt)) {
        const end = xml.indexOf(']]>', lt + 9);
        if (end < 0) break;
        if (top) top.text += xml.slice(lt + 9, end);
        i = end + 3;
      } else if (xml.startsWith('<!--', lt)) {
        const end = xml.indexOf('-->', lt + 4);
        if (end < 0) break;
        i = end + 3;
      } else {
        const end = xml.indexOf('>', lt);
        if (end < 0) break;
        i = end + 1;
      }
      continue;
    }
    if (c1 === Ch.QUESTION) {
      const end = xml.indexOf('?>', lt + 2);
      if (end < 0) break;
      i = end + 2;
      continue;
    }
    if (c1 === Ch.SLASH) {
      const end = xml.indexOf('>', lt);
      if (end < 0) break;
      i = end + 1;
      const f = stack.pop();
      if (f) closeElement(xml, out, stack, f, i);
      continue;
    }
    const tag = readStartTag(xml, lt, quotes);
    if (!tag) break;
    i = tag.end;
    if (top) top.hasChild = true;
    const depth = stack.length;
    openElement(xml, out, stack, tag, depth);
    const frame: Frame = {
      name: tag.name,
      start: lt,
      dataName: depth === 2 && tag.name === 'Data' && stack[1]?.name === 'EventData' ? attr(xml, tag, 'Name') : undefined,
      text: '',
      hasChild: false,
    };
    if (tag.selfClosing) closeElement(xml, out, stack, frame, i);
    else stack.push(frame);
  }
  return out;
}

/** Attributes of System's elements, read at their start tag. */
function openElement(xml: string, out: EventXmlFields, stack: readonly Frame[], tag: Tag, depth: number): void {
  if (depth !== 2 || stack[1]!.name !== 'System') return;
  switch (tag.name) {
    case 'Provider':
      forEachAttr(xml, tag.attrsFrom, tag.attrsTo, (name, value) => {
        if (name === 'Name') out.provider = value;
        else if (name === 'Guid') out.providerGuid = value;
        else if (name === 'EventSourceName') out.eventSourceName = value;
      });
      break;
    case 'EventID':
      out.qualifiers = toInt(attr(xml, tag, 'Qualifiers'));
      break;
    case 'TimeCreated':
      out.systemTime = attr(xml, tag, 'SystemTime');
      break;
    case 'Correlation':
      forEachAttr(xml, tag.attrsFrom, tag.attrsTo, (name, value) => {
        if (name === 'ActivityID') out.activityId = value;
        else if (name === 'RelatedActivityID') out.relatedActivityId = value;
      });
      break;
    case 'Execution':
      forEachAttr(xml, tag.attrsFrom, tag.attrsTo, (name, value) => {
        if (name === 'ProcessID') out.processId = toInt(value);
        else if (name === 'ThreadID') out.threadId = toInt(value);
      });
      break;
    case 'Security':
      out.userId = attr(xml, tag, 'UserID');
      break;
  }
}

/** Text of System's elements and of the payload, taken at their end (`end`: position after the end tag). */
function closeElement(xml: string, out: EventXmlFields, stack: readonly Frame[], f: Frame, end: number): void {
  const depth = stack.length;
  if (depth === 1 && (f.name === 'EventData' || f.name === 'UserData') && out.payload === undefined) {
    out.payload = f.name;
    out.payloadXml = xml.slice(f.start, end);
    return;
  }
  if (depth < 2) return;
  const section = stack[1]!.name;
  if (section === 'System') {
    if (depth !== 2) return;
    const t = f.text;
    switch (f.name) {
      case 'EventID':
        out.eventId = toInt(t);
        break;
      case 'Version':
        out.version = toInt(t);
        break;
      case 'Level':
        out.level = toInt(t);
        break;
      case 'Task':
        out.task = toInt(t);
        break;
      case 'Opcode':
        out.opcode = toInt(t);
        break;
      case 'Keywords':
        out.keywords = t.trim();
        break;
      case 'EventRecordID':
        out.recordId = toInt(t);
        break;
      case 'Channel':
        out.channel = t;
        break;
      case 'Computer':
        out.computer = t;
        break;
    }
  } else if (section === 'EventData' && out.payload === undefined) {
    if (depth !== 2) return;
    if (f.name === 'Data') out.data.push({ name: f.dataName, value: f.text });
    else if (f.name === 'Binary') out.binary = f.text;
  } else if (section === 'UserData' && out.payload === undefined) {
    // The leaves of the one element under UserData, in document order.
    if (depth >= 3 && !f.hasChild) out.data.push({ name: f.name, value: f.text });
  }
}
