import type { DcrSourceMapping } from '../../config/dcr/source-mapping.js';
import { RECORD_START_FORMATS } from './timestamp-formats.js';

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A DCR `logFiles` data source as a `custom_log` source: `filePatterns`, `format: text` and
 * `settings.text.recordStartTimestampFormat`; the table comes from the Custom- stream (set by the mapper).
 */
export const customLogDcr: DcrSourceMapping = {
  kind: 'logFiles',
  streams: 'custom',
  keys: ['name', 'streams', 'filePatterns', 'format', 'settings'],
  fromDcr(r) {
    const e = r.entry;
    r.set('filePatterns', r.stringList('filePatterns', true), ['filePatterns']);
    const format = e.format;
    if (format === undefined) r.error(['format'], 'missing (required: text)');
    else if (format === 'json') return r.skip(['format'], 'format json is not supported yet: data source skipped');
    else if (format !== 'text') r.error(['format'], 'expected text or json');
    const settings = e.settings;
    if (settings === undefined) return;
    if (!isObj(settings)) return r.error(['settings'], 'expected an object');
    for (const k of Object.keys(settings)) if (k !== 'text') r.warning(['settings', k], 'unknown key ignored');
    const text = settings.text;
    if (text === undefined) return;
    if (!isObj(text)) return r.error(['settings', 'text'], 'expected an object');
    for (const k of Object.keys(text)) {
      if (k !== 'recordStartTimestampFormat') r.warning(['settings', 'text', k], 'unknown key ignored');
    }
    const fmt = text.recordStartTimestampFormat;
    const at = ['settings', 'text', 'recordStartTimestampFormat'];
    if (fmt === undefined) return;
    if (typeof fmt !== 'string' || !(RECORD_START_FORMATS as readonly string[]).includes(fmt)) {
      r.error(at, `expected one of: ${RECORD_START_FORMATS.join(' | ')}`);
    } else r.set('recordStartTimestampFormat', fmt, at);
  },
};
