/**
 * JSON string escaping written straight into a Buffer, from UTF-8 bytes or from a JS string.
 *
 * The output is byte for byte what `JSON.stringify` gives (without the quotes), encoded as UTF-8, so a
 * record can be framed as JSON without decoding its text into a JS string first. Invalid UTF-8 becomes
 * U+FFFD exactly as `Buffer#toString('utf8')` decodes it (the WHATWG "maximal subpart" rule).
 */

/** Bytes copied as they are: printable ASCII and DEL, except `"` and `\`. */
const COPY = new Uint8Array(256);
for (let c = 0x20; c < 0x80; c++) COPY[c] = 1;
COPY[0x22] = 0;
COPY[0x5c] = 0;

/** The letter after `\` for the control characters JSON.stringify writes in short form (0: use \u00xx). */
const SHORT_ESCAPE = new Uint8Array(0x20);
SHORT_ESCAPE[0x08] = 0x62; // \b
SHORT_ESCAPE[0x09] = 0x74; // \t
SHORT_ESCAPE[0x0a] = 0x6e; // \n
SHORT_ESCAPE[0x0c] = 0x66; // \f
SHORT_ESCAPE[0x0d] = 0x72; // \r

/** Lowercase hex digits, as JSON.stringify writes them. */
const HEX = new Uint8Array([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66]);

const BACKSLASH = 0x5c;

/** Inputs shorter than this are scanned byte by byte: a word view over them costs more than it saves. */
const WORD_SCAN_MIN_BYTES = 32;
/** Runs of copied bytes at least this long are moved with one TypedArray#set instead of a byte loop. */
const BLOCK_COPY_MIN_BYTES = 32;

/** The word view of the memory block last seen: made again only when another block comes. */
let viewedMemory: ArrayBufferLike | undefined;
let viewedWords: Int32Array = new Int32Array(0);

/** An Int32Array over the whole memory block of `src` (its words at absolute offsets / 4). */
function wordViewOf(src: Buffer): Int32Array {
  if (src.buffer !== viewedMemory) {
    viewedMemory = src.buffer;
    viewedWords = new Int32Array(src.buffer, 0, src.buffer.byteLength >>> 2);
  }
  return viewedWords;
}

/** Strings up to this length are encoded by a char loop; longer ones by a check and one native write. */
const STRING_LOOP_MAX_LENGTH = 32;
/** What in a JS string JSON.stringify escapes, or what Buffer#write would not encode as JSON.stringify does. */
const STRING_NEEDS_LOOP = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Most bytes `writeEscapedUtf8` can write for `n` input bytes (every byte a control character: 6 each). */
export function maxEscapedBytes(n: number): number {
  return n * 6;
}

/**
 * Writes the UTF-8 text src[start, end) into out at `pos` as the contents of a JSON string (no quotes) and
 * returns the position after it. Output is byte-for-byte what `JSON.stringify(src.toString('utf8', start, end))`
 * gives without its quotes: `"` and `\` escaped, control characters U+0000–U+001F as \b \t \n \f \r or \u00xx
 * (lowercase hex, as JSON.stringify), DEL and U+2028/2029 unescaped, and every invalid UTF-8 sequence
 * (overlong, surrogates, > U+10FFFF, truncated, stray continuation bytes) replaced by U+FFFD exactly as
 * Buffer#toString does (WHATWG "maximal subpart" rule). The caller guarantees out has
 * maxEscapedBytes(end - start) bytes of room (a RangeError otherwise).
 */
export function writeEscapedUtf8(src: Buffer, start: number, end: number, out: Buffer, pos: number): number {
  if (out.length - pos < maxEscapedBytes(end - start) || pos < 0) {
    throw new RangeError('writeEscapedUtf8 needs maxEscapedBytes(end - start) bytes of room in out');
  }
  const base = src.byteOffset;
  // src[start, end) a word at a time where it is long enough, through a view of its whole memory made
  // once per memory block (sources read into the same buffer again and again): no object per call.
  let words: Int32Array | undefined;
  let firstWord = 0; // src index of the first whole aligned word
  let wordsTo = 0; // src index just after the last whole aligned word
  if (end - start >= WORD_SCAN_MIN_BYTES) {
    words = wordViewOf(src);
    firstWord = start + ((4 - ((base + start) & 3)) & 3);
    wordsTo = firstWord + (((end - firstWord) >>> 2) << 2);
  }
  let i = start;
  while (i < end) {
    // Find the run of bytes copied as they are: byte by byte up to a word boundary, then a word at a time,
    // then byte by byte again inside the word that holds the byte needing attention.
    let stop = i;
    if (words !== undefined && stop < wordsTo) {
      while (((base + stop) & 3) !== 0 && COPY[src[stop]!] === 1) stop++;
      if (((base + stop) & 3) === 0) {
        let w = (base + stop) >> 2;
        const wordsEnd = (base + wordsTo) >> 2;
        for (; w < wordsEnd; w++) {
          // A byte needs attention when its top bit is set, it is below 0x20, or it is `"` or `\`: the classic
          // "has a byte less than n" and "has a zero byte" word tests (exact as to whether one exists).
          const x = words[w]!;
          const q = x ^ 0x22222222;
          const b = x ^ 0x5c5c5c5c;
          if (((x | ((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b)) & 0x80808080) !== 0) break;
        }
        stop = (w << 2) - base;
      }
    }
    while (stop < end && COPY[src[stop]!] === 1) stop++;
    const run = stop - i;
    if (run >= BLOCK_COPY_MIN_BYTES) {
      // One native copy (its view object is short-lived garbage: cheaper than a byte loop, measured).
      out.set(new Uint8Array(src.buffer, base + i, run), pos);
      pos += run;
    } else {
      for (let k = i; k < stop; k++) out[pos++] = src[k]!;
    }
    i = stop;
    if (i === end) break;

    const c = src[i]!;
    if (c < 0x80) {
      pos = writeAsciiEscape(c, out, pos);
      i++;
      continue;
    }
    // Non-ASCII: validated and copied (or replaced) one character at a time while it lasts.
    do {
      const len = utf8SequenceLength(src, i, end);
      if (len > 0) {
        out[pos++] = src[i]!;
        out[pos++] = src[i + 1]!;
        if (len > 2) out[pos++] = src[i + 2]!;
        if (len > 3) out[pos++] = src[i + 3]!;
        i += len;
      } else {
        // U+FFFD in place of the maximal subpart of an ill-formed sequence (-len bytes).
        out[pos++] = 0xef;
        out[pos++] = 0xbf;
        out[pos++] = 0xbd;
        i -= len;
      }
    } while (i < end && src[i]! >= 0x80);
  }
  return pos;
}

/** `"`, `\` or a control character (`c` < 0x80) as JSON.stringify escapes it; returns the position after it. */
function writeAsciiEscape(c: number, out: Buffer, pos: number): number {
  out[pos++] = BACKSLASH;
  if (c === 0x22 || c === BACKSLASH) {
    out[pos++] = c;
  } else if (SHORT_ESCAPE[c] !== 0) {
    out[pos++] = SHORT_ESCAPE[c]!;
  } else {
    out[pos++] = 0x75; // \u00xx
    out[pos++] = 0x30;
    out[pos++] = 0x30;
    out[pos++] = HEX[c >> 4]!;
    out[pos++] = HEX[c & 0x0f]!;
  }
  return pos;
}

/**
 * At a byte >= 0x80 at src[i]: the length of the well-formed UTF-8 sequence that starts there (2 to 4), or
 * minus the length of its maximal subpart when it is ill-formed (what one U+FFFD replaces), within src[i, end).
 */
function utf8SequenceLength(src: Buffer, i: number, end: number): number {
  const c = src[i]!;
  if (c < 0xc2) return -1; // a continuation byte, or C0/C1 (always overlong)
  const b1 = i + 1 < end ? src[i + 1]! : 0;
  if (c < 0xe0) return (b1 & 0xc0) === 0x80 ? 2 : -1;
  if (c < 0xf0) {
    // E0: no overlong forms (second byte A0..BF); ED: no surrogates (80..9F).
    if (b1 < (c === 0xe0 ? 0xa0 : 0x80) || b1 > (c === 0xed ? 0x9f : 0xbf)) return -1;
    const b2 = i + 2 < end ? src[i + 2]! : 0;
    return (b2 & 0xc0) === 0x80 ? 3 : -2;
  }
  if (c > 0xf4) return -1; // would be above U+10FFFF
  // F0: no overlong forms (second byte 90..BF); F4: nothing above U+10FFFF (80..8F).
  if (b1 < (c === 0xf0 ? 0x90 : 0x80) || b1 > (c === 0xf4 ? 0x8f : 0xbf)) return -1;
  const b2 = i + 2 < end ? src[i + 2]! : 0;
  if ((b2 & 0xc0) !== 0x80) return -2;
  const b3 = i + 3 < end ? src[i + 3]! : 0;
  return (b3 & 0xc0) === 0x80 ? 4 : -3;
}

/**
 * The same for a JS string (host names, file paths, table names): JSON.stringify(s) without quotes, as UTF-8
 * (a lone surrogate as `\udxxx`, as JSON.stringify writes it). The caller guarantees out has
 * maxEscapedBytes(s.length) bytes of room at `pos` (a RangeError otherwise).
 */
export function writeEscapedString(s: string, out: Buffer, pos: number): number {
  const n = s.length;
  if (out.length - pos < maxEscapedBytes(n) || pos < 0) {
    throw new RangeError('writeEscapedString needs maxEscapedBytes(s.length) bytes of room in out');
  }
  if (n > STRING_LOOP_MAX_LENGTH && !STRING_NEEDS_LOOP.test(s)) return pos + out.write(s, pos, 'utf8');
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (COPY[c] === 1) {
        out[pos++] = c;
      } else {
        pos = writeAsciiEscape(c, out, pos);
      }
    } else if (c < 0x800) {
      out[pos++] = 0xc0 | (c >> 6);
      out[pos++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      out[pos++] = 0xe0 | (c >> 12);
      out[pos++] = 0x80 | ((c >> 6) & 0x3f);
      out[pos++] = 0x80 | (c & 0x3f);
    } else {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        out[pos++] = 0xf0 | (cp >> 18);
        out[pos++] = 0x80 | ((cp >> 12) & 0x3f);
        out[pos++] = 0x80 | ((cp >> 6) & 0x3f);
        out[pos++] = 0x80 | (cp & 0x3f);
        i++;
      } else {
        // A lone surrogate: JSON.stringify escapes it.
        out[pos++] = BACKSLASH;
        out[pos++] = 0x75;
        out[pos++] = HEX[c >> 12]!;
        out[pos++] = HEX[(c >> 8) & 0x0f]!;
        out[pos++] = HEX[(c >> 4) & 0x0f]!;
        out[pos++] = HEX[c & 0x0f]!;
      }
    }
  }
  return pos;
}

/**
 * Largest length n <= maxBytes such that src[start, start + n) does not end inside a UTF-8 character
 * (steps back over at most 3 continuation bytes; a malformed run is cut where it is). n is also at most
 * what src holds from start; it is 0 when the first character is longer than maxBytes.
 */
export function utf8Boundary(src: Buffer, start: number, maxBytes: number): number {
  const avail = src.length - start;
  if (maxBytes >= avail) return Math.max(avail, 0);
  if (maxBytes <= 0) return 0;
  const at = start + maxBytes;
  // The next byte starts a character (or is not UTF-8 at all): nothing is split.
  if ((src[at]! & 0xc0) !== 0x80) return maxBytes;
  for (let k = 1; k <= 3 && k <= maxBytes; k++) {
    const b = src[at - k]!;
    if ((b & 0xc0) !== 0x80) {
      // The byte that starts the character the cut falls in: cut before it if its sequence reaches past the cut.
      const len = b >= 0xf0 ? (b <= 0xf4 ? 4 : 1) : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 1;
      return len > k ? maxBytes - k : maxBytes;
    }
  }
  return maxBytes;
}
