import type { ComponentRegistry } from '../../pipeline/registry.js';
import { RECORD_START_FORMATS } from '../../sources/custom_log/timestamp-formats.js';
import type { SourceConfig } from '../agent-config.js';
import { CONFIG_PARSE, formatPath } from '../issues.js';

export type DcrSeverity = 'error' | 'warning' | 'info';

/**
 * One finding about a data collection rule. `path` points into the DCR document as given (e.g.
 * `properties.dataSources.logFiles[0].filePatterns[1]`). Errors make the whole rule invalid; a warning
 * names a part that is not applied; info notes a part OMA handles its own way.
 */
export interface DcrReportItem {
  readonly path: string;
  readonly severity: DcrSeverity;
  readonly message: string;
}

/** A source config as it would be written under `sources:` in the config file. */
export type RawSourceConfig = { readonly type: string } & Readonly<Record<string, unknown>>;

export interface DcrMapping {
  /** Sources by id (`dcr-<name>`): the data sources that map to a source type of this build. */
  readonly sources: Readonly<Record<string, RawSourceConfig>>;
  /** The same sources validated by their type's schema (defaults applied), ready for the pipeline. */
  readonly configs: readonly SourceConfig[];
  readonly report: readonly DcrReportItem[];
}

export interface DcrMapOptions {
  /** Source ids already used (by the config file); a DCR source with one of them is an error. */
  readonly reservedIds?: Iterable<string>;
}

type Seg = string | number;
type Obj = Record<string, unknown>;

export const SYSLOG_FACILITIES: readonly string[] = [
  'auth', 'authpriv', 'cron', 'daemon', 'mark', 'kern',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
  'lpr', 'mail', 'news', 'syslog', 'user', 'uucp', 'ftp', 'ntp', 'audit', 'alert', 'clock',
];
export const SYSLOG_LEVELS: readonly string[] = ['Debug', 'Info', 'Notice', 'Warning', 'Error', 'Critical', 'Alert', 'Emergency'];
/** Sampling frequency range of performance counters, in seconds (docs/protocol-notes.md#perf-counters). */
export const PERF_SAMPLING_MIN_S = 1;
export const PERF_SAMPLING_MAX_S = 1800;

interface KindSpec {
  /** OMA source type the data source maps to. */
  readonly type: string;
  /** Streams OMA collects for this kind (logFiles: any `Custom-` stream). */
  readonly streams: readonly string[];
  /** Keys of a data source entry this kind understands (others are reported and ignored). */
  readonly keys: readonly string[];
  /** Why well-known streams of this kind that OMA does not collect are skipped. */
  readonly unsupported?: Readonly<Record<string, string>>;
}

const KINDS: Readonly<Record<string, KindSpec>> = {
  syslog: {
    type: 'syslog',
    streams: ['Microsoft-Syslog'],
    keys: ['name', 'streams', 'facilityNames', 'logLevels'],
    unsupported: { 'Microsoft-CommonSecurityLog': 'CEF messages (CommonSecurityLog) are not collected by OMA' },
  },
  windowsEventLogs: {
    type: 'windows_event_log',
    streams: ['Microsoft-Event'],
    keys: ['name', 'streams', 'xPathQueries'],
    unsupported: {
      'Microsoft-SecurityEvent': 'the SecurityEvent table is not supported by OMA (events go to Event through Microsoft-Event)',
      'Microsoft-WindowsEvent': 'the WindowsEvent table is not supported by OMA (events go to Event through Microsoft-Event)',
    },
  },
  performanceCounters: {
    type: 'performance_counters',
    streams: ['Microsoft-Perf'],
    keys: ['name', 'streams', 'samplingFrequencyInSeconds', 'counterSpecifiers'],
    unsupported: { 'Microsoft-InsightsMetrics': 'Azure Monitor Metrics (InsightsMetrics) are not supported by OMA; counters go to Perf through Microsoft-Perf' },
  },
  logFiles: { type: 'custom_log', streams: [], keys: ['name', 'streams', 'filePatterns', 'format', 'settings'] },
  iisLogs: { type: 'iis_log', streams: ['Microsoft-W3CIISLog'], keys: ['name', 'streams', 'logDirectories'] },
};

const CUSTOM_STREAM_RE = /^Custom-(.+)$/;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `dcr-<name>`, lower-cased, characters an id cannot hold replaced by `_`, at most 64 characters. */
export function dcrSourceId(name: string): string {
  // Starts with a letter and holds only [a-z0-9_-]: always a valid COMPONENT_ID_RE id.
  return `dcr-${name.toLowerCase().replace(/[^a-z0-9_-]/g, '_')}`.slice(0, 64);
}

/** The custom table a `Custom-<Name>` stream lands in: `<Name>_CL` (a name that already ends in _CL is kept). */
export function customStreamTable(stream: string): string | undefined {
  const m = CUSTOM_STREAM_RE.exec(stream);
  if (!m) return undefined;
  return m[1]!.endsWith('_CL') ? m[1]! : `${m[1]!}_CL`;
}

interface Flow {
  readonly index: number;
  readonly outputStream?: string;
}

class Mapper {
  readonly report: DcrReportItem[] = [];
  readonly sources: Record<string, RawSourceConfig> = {};
  readonly configs: SourceConfig[] = [];
  private readonly idsSeen = new Map<string, string>();
  private readonly reserved: Set<string>;
  private flows: Map<string, Flow[]> | undefined;
  private declared: Set<string> | undefined;
  /** Path of the properties object: `properties` in an ARM resource, the root when only properties are given. */
  private base: Seg[] = [];

  constructor(
    private readonly registry: ComponentRegistry,
    opts: DcrMapOptions,
  ) {
    this.reserved = new Set(opts.reservedIds ?? []);
  }

  add(severity: DcrSeverity, path: readonly Seg[], message: string): void {
    this.report.push({ path: formatPath(path), severity, message });
  }

  run(doc: unknown): void {
    if (!isObj(doc)) {
      this.add('error', [], 'expected a JSON object: a data collection rule (the ARM resource) or its properties object');
      return;
    }
    if (Array.isArray(doc.resources)) {
      this.add('error', ['resources'], 'this is an ARM template: give the data collection rule resource itself (or its properties object)');
      return;
    }
    const hasProps = isObj(doc.properties);
    const props = hasProps ? (doc.properties as Obj) : doc;
    const base: Seg[] = hasProps ? ['properties'] : [];
    this.base = base;
    if (doc.properties !== undefined && !hasProps) {
      this.add('error', ['properties'], 'expected an object');
      return;
    }

    this.readStreamDeclarations(props.streamDeclarations, [...base, 'streamDeclarations']);
    this.readDataFlows(props.dataFlows, [...base, 'dataFlows']);
    this.noteDestinations(props, base);

    const ds = props.dataSources;
    const dsPath = [...base, 'dataSources'];
    if (ds === undefined) {
      const kind = typeof doc.kind === 'string' ? doc.kind : undefined;
      this.add(
        'error',
        dsPath,
        kind?.toLowerCase() === 'direct'
          ? 'missing: a kind Direct rule (Logs Ingestion API) has no data sources; give an agent data collection rule'
          : 'missing: the rule defines no data sources',
      );
      return;
    }
    if (!isObj(ds)) {
      this.add('error', dsPath, 'expected an object of data source lists (syslog, windowsEventLogs, performanceCounters, logFiles, iisLogs)');
      return;
    }
    for (const [kind, list] of Object.entries(ds)) {
      const path = [...dsPath, kind];
      const spec = KINDS[kind];
      if (!spec) {
        const n = Array.isArray(list) ? list.length : 0;
        this.add('warning', path, `data source kind "${kind}" is not supported by OMA: skipped${n ? ` (${n} entr${n === 1 ? 'y' : 'ies'})` : ''}`);
        continue;
      }
      if (!Array.isArray(list)) {
        this.add('error', path, 'expected a list of data sources');
        continue;
      }
      list.forEach((entry, i) => this.dataSource(kind, spec, entry, [...path, i]));
    }
  }

  private readStreamDeclarations(v: unknown, path: Seg[]): void {
    if (v === undefined) return;
    if (!isObj(v)) {
      this.add('error', path, 'expected an object of stream declarations');
      return;
    }
    this.declared = new Set(Object.keys(v));
  }

  private readDataFlows(v: unknown, path: Seg[]): void {
    if (v === undefined) return;
    if (!Array.isArray(v)) {
      this.add('error', path, 'expected a list of data flows');
      return;
    }
    const flows = new Map<string, Flow[]>();
    v.forEach((f, i) => {
      const p = [...path, i];
      if (!isObj(f)) {
        this.add('error', p, 'expected an object');
        return;
      }
      const streams = f.streams;
      if (!Array.isArray(streams) || streams.length === 0 || !streams.every((s) => typeof s === 'string' && s !== '')) {
        this.add('error', [...p, 'streams'], streams === undefined ? 'missing (required)' : 'expected a non-empty list of stream names');
        return;
      }
      if (f.outputStream !== undefined && typeof f.outputStream !== 'string') {
        this.add('error', [...p, 'outputStream'], 'expected a stream name');
        return;
      }
      const kql = f.transformKql;
      if (kql !== undefined) {
        if (typeof kql !== 'string') this.add('error', [...p, 'transformKql'], 'expected a KQL string');
        else if (kql.trim().toLowerCase() !== 'source') {
          this.add(
            'warning',
            [...p, 'transformKql'],
            'transformation not applied: the agent sends records as collected; put it in the transformKql of the Direct DCR that receives them (Azure applies it at ingestion)',
          );
        }
      }
      for (const s of streams as string[]) {
        const list = flows.get(s) ?? [];
        list.push({ index: i, ...(typeof f.outputStream === 'string' ? { outputStream: f.outputStream } : {}) });
        flows.set(s, list);
      }
    });
    this.flows = flows;
  }

  private noteDestinations(props: Obj, base: Seg[]): void {
    const d = props.destinations;
    if (isObj(d)) {
      const named: string[] = [];
      for (const [kind, list] of Object.entries(d)) {
        if (!Array.isArray(list)) continue;
        for (const x of list) {
          if (!isObj(x)) continue;
          const target = typeof x.workspaceResourceId === 'string' ? ` -> ${x.workspaceResourceId.split('/').pop() ?? ''}` : '';
          named.push(`${kind}:${typeof x.name === 'string' ? x.name : '?'}${target}`);
        }
      }
      this.add(
        'info',
        [...base, 'destinations'],
        `not used: OMA sends to the destinations of its own config, not to ${named.length ? named.join(', ') : 'these'}; dataFlows only select the streams and custom tables`,
      );
    }
    if (props.dataCollectionEndpointId !== undefined) {
      this.add('info', [...base, 'dataCollectionEndpointId'], 'not used: the endpoint comes from the destinations of OMA\'s config');
    }
    if (props.transformations !== undefined) {
      this.add('warning', [...base, 'transformations'], 'not applied: the agent does not run transformations');
    }
  }

  private dataSource(kind: string, spec: KindSpec, entry: unknown, path: Seg[]): void {
    if (!isObj(entry)) {
      this.add('error', path, 'expected an object');
      return;
    }
    let ok = true;
    const name = entry.name;
    let id: string | undefined;
    if (typeof name !== 'string' || name.trim() === '') {
      this.add('error', [...path, 'name'], name === undefined ? 'missing (required: the source id is dcr-<name>)' : 'expected a non-empty string');
      ok = false;
    } else {
      id = dcrSourceId(name);
      const prev = this.idsSeen.get(id);
      if (prev !== undefined) {
        this.add('error', [...path, 'name'], `gives the source id "${id}", already used by ${prev}`);
        ok = false;
      } else this.idsSeen.set(id, formatPath(path));
      if (this.reserved.has(id)) {
        this.add('error', [...path, 'name'], `gives the source id "${id}", which the config file's sources already use`);
        ok = false;
      }
    }
    for (const k of Object.keys(entry)) {
      if (!spec.keys.includes(k)) this.add('warning', [...path, k], `unknown key ignored (a ${kind} data source has ${spec.keys.join(', ')})`);
    }

    // Streams: which one OMA collects, and whether any data flow sends it anywhere.
    const streams = entry.streams;
    let stream: { name: string; index: number } | undefined;
    if (!Array.isArray(streams) || streams.length === 0) {
      this.add('error', [...path, 'streams'], streams === undefined ? 'missing (required)' : 'expected a non-empty list of stream names');
      ok = false;
    } else {
      streams.forEach((s, j) => {
        if (typeof s !== 'string' || s === '') {
          this.add('error', [...path, 'streams', j], 'expected a stream name');
          ok = false;
          return;
        }
        const supported = kind === 'logFiles' ? CUSTOM_STREAM_RE.test(s) : spec.streams.includes(s);
        if (!supported) {
          const why = spec.unsupported?.[s] ?? (kind === 'logFiles' ? 'a logFiles stream is a Custom-<Name> stream' : `OMA collects ${spec.streams.join(', ')} for ${kind}`);
          this.add('warning', [...path, 'streams', j], `stream ${s} not collected: ${why}`);
        } else if (stream === undefined) stream = { name: s, index: j };
        else this.add('warning', [...path, 'streams', j], `stream ${s} not collected: OMA collects one stream per data source (${stream.name})`);
      });
    }

    const mapped = this.options(kind, entry, path);
    if (!ok || mapped.skip) return;
    if (stream === undefined) {
      this.add('warning', path, 'skipped: none of its streams is collected by OMA');
      return;
    }
    const flows = this.flows?.get(stream.name);
    if (this.flows && !flows) {
      this.add('warning', [...path, 'streams', stream.index], `stream ${stream.name} is in no dataFlow (Azure would collect nothing for it): data source skipped`);
      return;
    }
    const { options, fields } = mapped;
    if (kind === 'logFiles') {
      const { table, at } = this.customTable(stream, flows ?? [], path);
      options.table = table;
      fields.set('table', at);
    }
    this.finish(id!, spec.type, options, path, fields);
  }

  /** The custom table of a logFiles data source: from its dataFlow's outputStream if any, else from its stream. */
  private customTable(stream: { name: string; index: number }, flows: readonly Flow[], path: Seg[]): { table: string; at: Seg[] } {
    const streamPath = [...path, 'streams', stream.index];
    if (this.declared && !this.declared.has(stream.name)) {
      this.add('warning', streamPath, `stream ${stream.name} is not declared in streamDeclarations (Azure rejects such a rule)`);
    }
    const fromStream = customStreamTable(stream.name)!;
    const outputs = flows.filter((f) => f.outputStream !== undefined);
    const first = outputs[0];
    if (!first) return { table: fromStream, at: streamPath };
    const fromFlow = customStreamTable(first.outputStream!);
    const flowPath: Seg[] = [...this.base, 'dataFlows', first.index, 'outputStream'];
    if (fromFlow === undefined || !fromFlow.endsWith('_CL')) {
      this.add('warning', flowPath, `outputStream ${first.outputStream!} not used for ${stream.name}: text logs go to a custom table (${fromStream})`);
      return { table: fromStream, at: streamPath };
    }
    for (const o of outputs.slice(1)) {
      if (customStreamTable(o.outputStream!) === fromFlow) continue;
      this.add('warning', [...this.base, 'dataFlows', o.index, 'outputStream'], `not used: ${stream.name} already goes to ${fromFlow} (dataFlows[${first.index}]); OMA sends a stream to one table`);
    }
    return { table: fromFlow, at: flowPath };
  }

  /** Reads the kind's own fields, reporting errors; `fields` maps each option to its path in the DCR; `skip` when not applied. */
  private options(kind: string, e: Obj, path: Seg[]): { options: Obj; fields: Map<string, Seg[]>; skip: boolean } {
    const options: Obj = { type: KINDS[kind]!.type };
    const fields = new Map<string, Seg[]>();
    let failed = false;
    const err = (p: Seg[], message: string): void => {
      this.add('error', [...path, ...p], message);
      failed = true;
    };
    const stringList = (key: string, required: boolean): string[] | undefined => {
      const v = e[key];
      if (v === undefined) {
        if (required) err([key], 'missing (required)');
        return undefined;
      }
      if (!Array.isArray(v)) {
        err([key], 'expected a list of strings');
        return undefined;
      }
      let good = true;
      v.forEach((x, j) => {
        if (typeof x !== 'string') {
          err([key, j], 'expected a string');
          good = false;
        }
      });
      if (required && v.length === 0) {
        err([key], 'expected at least one entry');
        good = false;
      }
      return good ? (v as string[]) : undefined;
    };
    const enumList = (key: string, allowed: readonly string[], label: string): string[] | undefined => {
      const v = stringList(key, true);
      if (!v) return undefined;
      const out: string[] = [];
      v.forEach((x, j) => {
        if (x === '*') return void out.push('*');
        const hit = allowed.find((a) => a.toLowerCase() === x.toLowerCase());
        if (hit) out.push(hit);
        else err([key, j], `unknown ${label} "${x}" (expected ${allowed.join(', ')} or *)`);
      });
      return out.length === v.length ? out : undefined;
    };

    switch (kind) {
      case 'syslog': {
        const facilities = enumList('facilityNames', SYSLOG_FACILITIES, 'facility');
        const levels = enumList('logLevels', SYSLOG_LEVELS, 'log level');
        options.facilities = facilities;
        options.levels = levels;
        fields.set('facilities', [...path, 'facilityNames']).set('levels', [...path, 'logLevels']);
        break;
      }
      case 'windowsEventLogs': {
        const q = stringList('xPathQueries', true);
        q?.forEach((x, j) => {
          if (!/^[^!]+!.+$/s.test(x)) err(['xPathQueries', j], 'expected "<Channel>!<XPath>", e.g. Application!*[System[(Level=1 or Level=2)]]');
        });
        options.xPathQueries = q;
        fields.set('xPathQueries', [...path, 'xPathQueries']);
        break;
      }
      case 'performanceCounters': {
        const f = e.samplingFrequencyInSeconds;
        if (f === undefined) err(['samplingFrequencyInSeconds'], 'missing (required)');
        else if (typeof f !== 'number' || !Number.isInteger(f) || f < PERF_SAMPLING_MIN_S || f > PERF_SAMPLING_MAX_S) {
          err(['samplingFrequencyInSeconds'], `expected a whole number of seconds from ${PERF_SAMPLING_MIN_S} to ${PERF_SAMPLING_MAX_S}`);
        }
        const c = stringList('counterSpecifiers', true);
        options.counterSpecifiers = c;
        options.samplingFrequencySeconds = f;
        fields.set('counterSpecifiers', [...path, 'counterSpecifiers']).set('samplingFrequencySeconds', [...path, 'samplingFrequencyInSeconds']);
        break;
      }
      case 'iisLogs': {
        const d = stringList('logDirectories', false);
        if (d !== undefined) {
          options.logDirectories = d;
          fields.set('logDirectories', [...path, 'logDirectories']);
        }
        break;
      }
      case 'logFiles': {
        options.filePatterns = stringList('filePatterns', true);
        fields.set('filePatterns', [...path, 'filePatterns']);
        const format = e.format;
        if (format === undefined) err(['format'], 'missing (required: text)');
        else if (format === 'json') {
          this.add('warning', [...path, 'format'], 'format json is not supported yet: data source skipped');
          return { options, fields, skip: true };
        } else if (format !== 'text') err(['format'], 'expected text or json');
        const settings = e.settings;
        if (settings !== undefined) {
          if (!isObj(settings)) err(['settings'], 'expected an object');
          else {
            for (const k of Object.keys(settings)) if (k !== 'text') this.add('warning', [...path, 'settings', k], 'unknown key ignored');
            const text = settings.text;
            if (text !== undefined && !isObj(text)) err(['settings', 'text'], 'expected an object');
            else if (isObj(text)) {
              for (const k of Object.keys(text)) {
                if (k !== 'recordStartTimestampFormat') this.add('warning', [...path, 'settings', 'text', k], 'unknown key ignored');
              }
              const fmt = text.recordStartTimestampFormat;
              const p = ['settings', 'text', 'recordStartTimestampFormat'];
              if (fmt !== undefined) {
                if (typeof fmt !== 'string' || !(RECORD_START_FORMATS as readonly string[]).includes(fmt)) {
                  err(p, `expected one of: ${RECORD_START_FORMATS.join(' | ')}`);
                } else {
                  options.recordStartTimestampFormat = fmt;
                  fields.set('recordStartTimestampFormat', [...path, ...p]);
                }
              }
            }
          }
        }
        break;
      }
    }
    return { options, fields, skip: failed };
  }

  private finish(id: string, type: string, options: Obj, path: Seg[], fields: Map<string, Seg[]>): void {
    const def = this.registry.source(type);
    if (!def) {
      this.add('warning', path, `not available on this platform/build: source type ${type}; skipped`);
      return;
    }
    const { type: _t, ...opts } = options;
    const parsed = def.schema.safeParse(opts, CONFIG_PARSE);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const [head, ...rest] = issue.path as Seg[];
        const at = head === undefined ? path : fields.get(String(head)) ?? [...path, head];
        this.add('error', [...at, ...rest], issue.code === 'unrecognized_keys' ? `unknown keys: ${issue.keys.join(', ')}` : issue.message);
      }
      return;
    }
    this.sources[id] = { type, ...opts };
    this.configs.push({ id, type, options: parsed.data, processors: [] });
  }
}

/**
 * Maps an agent data collection rule (the ARM resource, or only its `properties`) to OMA sources:
 * syslog → `syslog`, windowsEventLogs → `windows_event_log`, performanceCounters →
 * `performance_counters`, logFiles → `custom_log`, iisLogs → `iis_log`, each with the id
 * `dcr-<name>`. Data sources whose type this build lacks are reported and skipped; the others are
 * validated by their type's schema, with problems reported at their path in the DCR.
 */
export function mapDcrToSources(dcr: unknown, registry: ComponentRegistry, opts: DcrMapOptions = {}): DcrMapping {
  const m = new Mapper(registry, opts);
  m.run(dcr);
  return { sources: m.sources, configs: m.configs, report: m.report };
}

/** True when the report has no error (the rule can be applied). */
export function dcrReportOk(report: readonly DcrReportItem[]): boolean {
  return !report.some((r) => r.severity === 'error');
}
