import type { SourceDefinition } from '../../pipeline/component.js';
import type { ComponentRegistry } from '../../pipeline/registry.js';
import type { SourceConfig } from '../agent-config.js';
import { CONFIG_PARSE, formatPath } from '../issues.js';
import { DCR_KIND_SOURCE_TYPES, type DcrEntryReader, type DcrPath, type DcrSourceMapping } from './source-mapping.js';

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
      this.add('error', dsPath, `expected an object of data source lists (${Object.keys(DCR_KIND_SOURCE_TYPES).join(', ')})`);
      return;
    }
    for (const [kind, list] of Object.entries(ds)) {
      const path = [...dsPath, kind];
      const def = this.registry.dcrSource(kind);
      const otherType = DCR_KIND_SOURCE_TYPES[kind];
      if (!def?.dcr && otherType === undefined) {
        const n = Array.isArray(list) ? list.length : 0;
        this.add('warning', path, `data source kind "${kind}" is not supported by OMA: skipped${n ? ` (${n} entr${n === 1 ? 'y' : 'ies'})` : ''}`);
        continue;
      }
      if (!Array.isArray(list)) {
        this.add('error', path, 'expected a list of data sources');
        continue;
      }
      list.forEach((entry, i) => {
        if (def?.dcr) this.dataSource(def, def.dcr, entry, [...path, i]);
        else this.add('warning', [...path, i], `not available on this platform/build: source type ${otherType!}; skipped`);
      });
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

  private dataSource(def: SourceDefinition, spec: DcrSourceMapping, entry: unknown, path: Seg[]): void {
    const kind = spec.kind;
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
        const supported = spec.streams === 'custom' ? CUSTOM_STREAM_RE.test(s) : spec.streams.includes(s);
        if (!supported) {
          const why =
            spec.unsupported?.[s] ??
            (spec.streams === 'custom' ? `a ${kind} stream is a Custom-<Name> stream` : `OMA collects ${spec.streams.join(', ')} for ${kind}`);
          this.add('warning', [...path, 'streams', j], `stream ${s} not collected: ${why}`);
        } else if (stream === undefined) stream = { name: s, index: j };
        else this.add('warning', [...path, 'streams', j], `stream ${s} not collected: OMA collects one stream per data source (${stream.name})`);
      });
    }

    const mapped = this.options(spec, entry, path);
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
    if (spec.streams === 'custom') {
      const { table, at } = this.customTable(stream, flows ?? [], path);
      options.table = table;
      fields.set('table', at);
    }
    this.finish(id!, def, options, path, fields);
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

  /** Reads the kind's own fields through its `fromDcr`; `fields` maps each option to its path in the DCR; `skip` when not applied. */
  private options(spec: DcrSourceMapping, e: Obj, path: Seg[]): { options: Obj; fields: Map<string, Seg[]>; skip: boolean } {
    const options: Obj = {};
    const fields = new Map<string, Seg[]>();
    let skip = false;
    const at = (p: DcrPath): Seg[] => [...path, ...p];
    const err = (p: DcrPath, message: string): void => {
      this.add('error', at(p), message);
      skip = true;
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
    const reader: DcrEntryReader = {
      entry: e,
      error: err,
      warning: (p, message) => this.add('warning', at(p), message),
      info: (p, message) => this.add('info', at(p), message),
      skip: (p, message) => {
        this.add('warning', at(p), message);
        skip = true;
      },
      stringList,
      enumList: (key, allowed, label) => {
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
      },
      set: (name, value, p) => {
        options[name] = value;
        fields.set(name, at(p));
      },
    };
    spec.fromDcr(reader);
    return { options, fields, skip };
  }

  private finish(id: string, def: SourceDefinition, opts: Obj, path: Seg[], fields: Map<string, Seg[]>): void {
    const type = def.type;
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
 * Maps an agent data collection rule (the ARM resource, or only its `properties`) to OMA sources, each
 * with the id `dcr-<name>`. Each data source kind is read by the registered source type whose `dcr`
 * mapping names it (syslog → `syslog`, performanceCounters → `performance_counters`, logFiles →
 * `custom_log`, …: `DCR_KIND_SOURCE_TYPES`). Kinds whose type this build lacks are reported and
 * skipped; the others are validated by their type's schema, with problems reported at their path in
 * the DCR.
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
