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

/** Reads the start tag at `lt` (`xml[lt]` is `<`); undefined when the tag never ends. */
function readStartTag(xml: string, lt: number): Tag | undefined {
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
  let quote = 0;
  for (; i < n; i++) {
    const c = xml.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === Ch.SQUOTE || c === Ch.DQUOTE) quote = c;
    else if (c === Ch.GT) break;
  }
  if (i >= n) return undefined;
  const selfClosing = xml.charCodeAt(i - 1) === Ch.SLASH;
  return { name, attrsFrom, attrsTo: selfClosing ? i - 1 : i, selfClosing, end: i + 1 };
}

/** Calls `each(localName, decodedValue)` for every attribute of a tag (xmlns declarations skipped). */
function forEachAttr(xml: string, from: number, to: number, each: (name: string, value: string) => void): void {
  let i = from;
  while (i < to) {
    while (i < to && isSpace(xml.charCodeAt(i))) i++;
    if (i >= to) return;
    const nameFrom = i;
    let colon = -1;
    while (i < to) {
      const c = xml.charCodeAt(i);
      if (c === Ch.EQ || isSpace(c)) break;
      if (c === Ch.COLON) colon = i;
      i++;
    }
    const prefix = colon >= 0 ? xml.slice(nameFrom, colon) : '';
    const name = xml.slice(colon >= 0 ? colon + 1 : nameFrom, i);
    while (i < to && isSpace(xml.charCodeAt(i))) i++;
    if (xml.charCodeAt(i) !== Ch.EQ) return;
    i++;
    while (i < to && isSpace(xml.charCodeAt(i))) i++;
    const q = xml.charCodeAt(i);
    if (q !== Ch.SQUOTE && q !== Ch.DQUOTE) return;
    const close = xml.indexOf(q === Ch.SQUOTE ? "'" : '"', i + 1);
    if (close < 0 || close > to) return;
    if (prefix !== 'xmlns' && name !== 'xmlns') each(name, decodeXmlText(xml.slice(i + 1, close)));
    i = close + 1;
  }
}

function attr(xml: string, tag: Tag, want: string): string | undefined {
  let found: string | undefined;
  forEachAttr(xml, tag.attrsFrom, tag.attrsTo, (name, value) => {
    if (found === undefined && name === want) found = value;
  });
  return found;
}

function toInt(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (t === '') return undefined;
  const v = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t.slice(2), 16) : /^-?\d+$/.test(t) ? parseInt(t, 10) : NaN;
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
    const tag = readStartTag(xml, lt);
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
