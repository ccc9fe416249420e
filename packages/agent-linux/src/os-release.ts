/**
 * Parses an os-release file (see os-release(5)): `KEY=value` lines, values optionally in double or single
 * quotes, backslash escapes inside double quotes, `#` comments. Lines that do not fit are ignored.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    const value = unquote(m[2]!);
    if (value !== undefined) fields[m[1]!] = value;
  }
  return fields;
}

function unquote(raw: string): string | undefined {
  const v = raw.trim();
  if (v.startsWith('"')) {
    let out = '';
    for (let i = 1; i < v.length; i++) {
      const c = v[i]!;
      if (c === '\\' && i + 1 < v.length) {
        out += v[++i];
      } else if (c === '"') {
        return out;
      } else {
        out += c;
      }
    }
    return undefined; // no closing quote
  }
  if (v.startsWith("'")) {
    const end = v.indexOf("'", 1);
    return end < 0 ? undefined : v.slice(1, end);
  }
  return v;
}

export interface OsVersion {
  readonly osName: string;
  readonly osMajorVersion: string;
  readonly osMinorVersion: string;
}

/**
 * Splits a version such as `22.04`, `9.3` or `3.19.1` into major and minor (`12` gives minor `0`).
 * Returns undefined when the text does not start with a number.
 */
export function splitVersion(version: string): { major: string; minor: string } | undefined {
  const m = /^\s*(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) return undefined;
  return { major: m[1]!, minor: m[2] ?? '0' };
}

/**
 * OS name and version from os-release fields: `NAME` (falling back to `PRETTY_NAME`, then `ID`) and
 * `VERSION_ID` (falling back to the number `VERSION` starts with). Rolling releases without either get
 * empty version strings. Returns undefined when the fields name no OS.
 */
export function osVersionFromRelease(fields: Readonly<Record<string, string>>): OsVersion | undefined {
  const osName = fields.NAME || fields.PRETTY_NAME || fields.ID;
  if (!osName) return undefined;
  const version = splitVersion(fields.VERSION_ID ?? '') ?? splitVersion(fields.VERSION ?? '');
  return { osName, osMajorVersion: version?.major ?? '', osMinorVersion: version?.minor ?? '' };
}
