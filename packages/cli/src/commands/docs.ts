import { z } from 'zod';
import {
  agentConfigSchema,
  ComponentRegistry,
  genericPlatform,
  BUILTIN_DESTINATION_TYPES,
  destinationCommonSchema,
  queueConfigSchema,
  sourceCommonSchema,
} from '@oma/core';
import { buildRegistry } from '../registry.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
}

interface ZodInternals {
  _zod?: { def: { type: string; innerType?: ZodInternals; in?: ZodInternals; defaultValue?: unknown; shape?: Record<string, ZodInternals> } };
}

/** The object schema inside optional/default/pipe wrappers, if any. */
function objectShape(s: ZodInternals | undefined): Record<string, ZodInternals> | undefined {
  for (let cur = s; cur?._zod; ) {
    const def = cur._zod.def;
    if (def.type === 'object') return def.shape;
    cur = def.innerType ?? def.in;
  }
  return undefined;
}

/**
 * Defaults by dotted option path, read from the zod schemas themselves: JSON Schema loses the defaults
 * of options whose input is transformed (sizes, durations).
 */
function zodDefaults(schema: z.ZodType): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (s: ZodInternals | z.ZodType | undefined, prefix: string): void => {
    for (const [key, prop] of Object.entries(objectShape(s) ?? {})) {
      const def = prop._zod?.def;
      if (def?.type === 'default') out.set(`${prefix}${key}`, def.defaultValue);
      walk(prop, `${prefix}${key}.`);
    }
  };
  walk(schema, '');
  return out;
}

interface Doc {
  readonly json: JsonSchema;
  readonly defaults: Map<string, unknown>;
}

function toJson(schema: z.ZodType): Doc {
  return {
    json: z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', reused: 'inline' }) as JsonSchema,
    defaults: zodDefaults(schema),
  };
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return [...new Set(alts.map(typeOf))].join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'values'}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties) {
    return `map of ${typeOf(s.additionalProperties)}`;
  }
  if (s.type === 'object' && s.properties) {
    const keys = Object.keys(s.properties);
    return keys.length === 1 ? `{ ${keys[0]} }` : 'object';
  }
  if (Array.isArray(s.type)) return s.type.join(' or ');
  return s.type ?? 'any';
}

function description(s: JsonSchema): string {
  const alts = s.anyOf ?? s.oneOf;
  return (s.description ?? alts?.find((a) => a.description)?.description ?? '').replace(/\|/g, '\\|');
}

function fmtDefault(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'object' && v !== null && Object.keys(v).length > 2) return '(see below)';
  return `\`${JSON.stringify(v)}\``;
}

/** Rows `| option | type | default | description |`, nested objects flattened to dotted names. */
function rows(schema: JsonSchema, defaults: Map<string, unknown>, prefix = '', skip: readonly string[] = []): string[] {
  const out: string[] = [];
  const required = new Set(schema.required ?? []);
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    if (skip.includes(key)) continue;
    const name = `${prefix}${key}`;
    const isNested = prop.type === 'object' && prop.properties && Object.keys(prop.properties).length > 1;
    const req = required.has(key) && prop.default === undefined ? ' (required)' : '';
    const dflt = prop.default ?? defaults.get(name.replace(/\(type=[^)]*\)/g, ''));
    out.push(`| \`${name}\`${req} | ${isNested ? 'object' : typeOf(prop)} | ${isNested ? '' : fmtDefault(dflt)} | ${description(prop)} |`);
    if (isNested) out.push(...rows(prop, defaults, `${name}.`));
    // A union of object variants (e.g. auth kinds): list each variant's fields.
    for (const alt of prop.anyOf ?? prop.oneOf ?? []) {
      if (alt.type === 'object' && alt.properties && Object.keys(alt.properties).length > 1) {
        const tag = alt.properties.type?.const ?? alt.properties.type?.enum?.[0];
        out.push(...rows(alt, defaults, `${name}${typeof tag === 'string' ? `(type=${tag})` : ''}.`, ['type']));
      }
    }
  }
  return out;
}

function table(doc: Doc, skip: readonly string[] = []): string {
  const r = rows(doc.json, doc.defaults, '', skip);
  if (r.length === 0) return 'No options.\n';
  return ['| option | type | default | description |', '| --- | --- | --- | --- |', ...r, ''].join('\n');
}

/** The source types of one platform package, for the reference's per-platform part. */
export interface PlatformSources {
  /** Shown in headings: `Linux`, `Windows`. */
  readonly title: string;
  readonly registry: ComponentRegistry;
}

/**
 * The configuration reference, generated from the same schemas `oma validate` uses: the core
 * components, then the source types of each platform (a type two platforms both have, such as
 * `performance_counters`, has a section per platform).
 */
export function configDocs(registry: ComponentRegistry, platforms: readonly PlatformSources[] = []): string {
  const top = toJson(agentConfigSchema);
  const parts: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated by `oma docs config` from the config schemas; a test checks that this file matches. Do not edit by hand. -->',
    '',
    'OMA reads one YAML file (JSON is accepted too). Every key is checked: an unknown key, a wrong type or a',
    'bad value is an error, and `oma validate --config FILE` lists every problem with its path and exits 2.',
    'Sizes take a number of bytes or a unit (`512KiB`, `50MB`, `1GiB`); durations a number of milliseconds or',
    'a unit (`500ms`, `10s`, `5m`, `1h`). A secret is a string, `{ env: NAME }` or `{ file: PATH }`, resolved at',
    'start. Relative paths resolve against the working directory. `SIGHUP` reloads the file without losing',
    'queued data; an invalid file is reported and the running config kept.',
    '',
    '## Agent settings',
    '',
    table(top, ['sources', 'destinations']),
    '## Sources',
    '',
    'Each entry under `sources:` has an id (lower-case letters, digits, `_`, `-`) and a `type`. Options every',
    'source has:',
    '',
    table(toJson(sourceCommonSchema)),
  ];
  for (const type of registry.types('source')) {
    const def = registry.source(type)!;
    parts.push(`### \`${type}\``, '', def.description, '', table(toJson(def.schema)));
  }
  for (const p of platforms) {
    const own = p.registry.types('source').filter((t) => !registry.source(t));
    if (own.length === 0) continue;
    parts.push(`Source types of the ${p.title} platform (an entry for another platform is skipped there: mark it with \`platforms\`):`, '');
    for (const type of own) {
      const def = p.registry.source(type)!;
      parts.push(`### \`${type}\` (${p.title})`, '', def.description, '', table(toJson(def.schema)));
    }
  }
  parts.push('## Processors', '', 'Listed under a source\'s `processors:`, applied in order.', '');
  for (const type of registry.types('processor')) {
    const def = registry.processor(type)!;
    parts.push(`### \`${type}\``, '', def.description, '', table(toJson(def.schema)));
  }
  parts.push(
    '## Destinations',
    '',
    'Each entry under `destinations:` has an id and a `type`, and its own durable queue under',
    '`<dataDir>/queues/<id>`. Options every destination has:',
    '',
    table(toJson(destinationCommonSchema), ['queue']),
    '### `queue`',
    '',
    table(toJson(queueConfigSchema)),
  );
  const destTypes = [...BUILTIN_DESTINATION_TYPES.keys(), ...registry.types('sink')].sort();
  for (const type of destTypes) {
    const builtin = BUILTIN_DESTINATION_TYPES.get(type);
    const def = registry.sink(type);
    const schema = builtin ?? def!.schema;
    parts.push(`### \`${type}\``, '', builtin?.description ?? def!.description, '', table(toJson(schema)));
  }
  return `${parts.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

/** Every platform package's source types, whatever OS this runs on (the reference is the same everywhere). */
export async function allPlatformSources(): Promise<PlatformSources[]> {
  const [linux, windows] = await Promise.all([import('@oma/linux'), import('@oma/windows')]);
  return [
    { title: 'Linux', registry: new ComponentRegistry(linux.createPlatform().components) },
    { title: 'Windows', registry: new ComponentRegistry(windows.createPlatform().components) },
  ];
}

export async function printConfigDocs(): Promise<string> {
  return configDocs(buildRegistry(genericPlatform('docs')), await allPlatformSources());
}
