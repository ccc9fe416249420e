import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Document, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { CUSTOM_TABLE_RE, STANDARD_TABLES } from '../model/tables.js';
import type { ComponentRegistry } from '../pipeline/registry.js';
import { GENERIC_DEFAULTS } from '../platform/generic.js';
import type { Platform } from '../platform/platform.js';

/** What config parsing needs to know of the platform: its name (for `platforms:`) and its defaults. */
export type PlatformFacts = Pick<Platform, 'name' | 'defaults'>;
const GENERIC_FACTS: PlatformFacts = { name: 'generic', defaults: GENERIC_DEFAULTS };
import { dcrConfigSchema } from './dcr/config.js';
import { CONFIG_PARSE, formatPath, zodIssues } from './issues.js';
import { bytesSchema, durationMsSchema } from './units.js';

export const COMPONENT_ID_RE = /^[a-z][a-z0-9_-]{0,63}$/;
const componentId = z.string().regex(COMPONENT_ID_RE, 'ids are lower-case letters, digits, _ and -, starting with a letter');

const tableName = z
  .string()
  .refine((t) => STANDARD_TABLES.some((s) => s.name === t) || CUSTOM_TABLE_RE.test(t), {
    message: `expected a standard table (${STANDARD_TABLES.map((t) => t.name).join(', ')}) or a custom table ending in _CL`,
  });

export const queueConfigSchema = z
  .strictObject({
    maxBytes: bytesSchema.default(256 * 1024 * 1024).describe('Disk space the queue may use; then the full policy applies.'),
    segmentMaxBytes: bytesSchema.default(16 * 1024 * 1024).describe('Size of one segment file.'),
    fsync: z
      .enum(['always', 'interval', 'never'])
      .default('interval')
      .describe('When queued data is fsynced before a batch counts as stored: after each write, after a short group-commit delay (fsyncIntervalMs), or never (the OS decides; a machine crash can lose data).'),
    fsyncIntervalMs: durationMsSchema
      .default(5)
      .describe('Policy interval: how long the fsync waits after an append for others to share it (group commit); a source waits this long plus the fsync per batch.'),
    fullPolicy: z
      .enum(['block', 'drop_oldest', 'drop_newest'])
      .default('block')
      .describe(
        'When the queue is full (maxBytes reached, or its device full or below the free-space floor): block (sources wait, nothing is dropped), drop_oldest (delete the oldest segment, counted) or drop_newest (refuse new batches, counted). Only the dropping policies keep one destination\'s full queue from holding up the others.',
      ),
    minFreeBytes: bytesSchema
      .default(1024 * 1024 * 1024)
      .describe('Free-space floor: the queue behaves as full while writing would leave less than the smaller of this and minFreePercent of its device free. 0 turns the floor off.'),
    minFreePercent: z
      .number()
      .min(0)
      .max(100)
      .default(5)
      .describe('Free-space floor as a percentage of the device size (see minFreeBytes). 0 turns the floor off.'),
    maxAgeMs: durationMsSchema
      .default(0)
      .describe(
        'Age policy: records queued longer than this are dropped instead of sent (counted as queue_expired), and whole segments of them are deleted; e.g. 7d. 0 keeps records until they are delivered.',
      ),
  })
  .refine((q) => q.segmentMaxBytes * 2 <= q.maxBytes, { message: 'maxBytes must hold at least two segments', path: ['maxBytes'] })
  .describe('The durable on-disk queue of a destination.');
export type QueueConfig = z.output<typeof queueConfigSchema>;

/** Options every source has besides its own. */
export const sourceCommonSchema = z.object({
  type: z.string().describe('Source type.'),
  enabled: z.boolean().default(true).describe('Set false to keep the entry but not run it.'),
  platforms: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe('Run only on these platforms (linux, windows, or Node\'s name of another OS); elsewhere the entry is skipped, even when its type does not exist there. One config can then serve every host.'),
  processors: z
    .array(z.looseObject({ type: z.string() }))
    .default([])
    .describe('Processors applied, in order, to every batch of this source.'),
});

/** Options every destination has besides its sink's own. */
export const destinationCommonSchema = z.object({
  type: z.string().describe('Sink type.'),
  enabled: z.boolean().default(true).describe('Set false to keep the entry but not deliver to it.'),
  tables: z.array(tableName).optional().describe('Tables this destination receives; all when absent.'),
  queue: queueConfigSchema.default(queueConfigSchema.parse({})),
});

export const localWorkspaceConfigSchema = z
  .strictObject({
    host: z.string().default('127.0.0.1').describe('Loopback address the embedded local workspace listens on.'),
    port: z.number().int().min(0).max(65535).default(0).describe('Port of the embedded local workspace; 0 picks a free one.'),
    dataDir: z.string().optional().describe('Where the local workspace keeps its database; default <dataDir>/local-workspace.'),
    maxRows: z.number().int().positive().default(5_000_000).describe('Rows kept per table; the oldest are pruned beyond it.'),
    tls: z
      .boolean()
      .default(false)
      .describe('Serve HTTPS with a CA generated into its data directory (tls/ca.pem), which the agent\'s own sink trusts.'),
  })
  .describe('The embedded local workspace, started when a destination has type local_workspace.');

export const agentConfigSchema = z.strictObject({
  dataDir: z
    .string()
    .optional()
    .describe(
      'Directory for queues, checkpoints, dead letters and logs (default: /var/opt/oma on Linux, C:\\ProgramData\\OMA on Windows, /var/lib/oma elsewhere). Relative paths resolve against the working directory.',
    ),
  computerName: z.string().min(1).optional().describe('Overrides the Computer column (default: the host name).'),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level.'),
      file: z.boolean().default(true).describe('Also write JSON logs to <dataDir>/logs/oma.log.'),
      maxFileBytes: bytesSchema.default(10 * 1024 * 1024).describe('Size at which oma.log is rotated to oma.log.1.'),
    })
    .default({ level: 'info', file: true, maxFileBytes: 10 * 1024 * 1024 })
    .describe('The agent\'s own logs.'),
  observability: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Serve /metrics (Prometheus text) and /healthz.'),
      host: z.string().default('127.0.0.1').describe('Address of the metrics endpoint (keep it on loopback).'),
      port: z.number().int().min(0).max(65535).default(9469).describe('Port of the metrics endpoint; 0 picks a free one.'),
    })
    .default({ enabled: true, host: '127.0.0.1', port: 9469 })
    .describe('The agent\'s own metrics and health endpoint.'),
  statusIntervalMs: durationMsSchema.default(10_000).describe('Interval of the status line (0 turns it off).'),
  shutdownTimeoutMs: durationMsSchema.default(10_000).describe('Deadline for a clean stop after SIGTERM or SIGINT.'),
  localWorkspace: localWorkspaceConfigSchema.default(localWorkspaceConfigSchema.parse({})),
  dataCollectionRule: dcrConfigSchema.optional(),
  sources: z.record(componentId, z.unknown()).default({}).describe('Sources by id.'),
  destinations: z
    .record(componentId, z.unknown())
    .default({ local: { type: 'local_workspace' } })
    .describe('Destinations by id; each has its own durable queue.'),
});

export interface ProcessorConfig {
  readonly type: string;
  readonly options: unknown;
}

export interface SourceConfig {
  readonly id: string;
  readonly type: string;
  readonly options: unknown;
  readonly processors: readonly ProcessorConfig[];
}

export interface DestinationConfig {
  readonly id: string;
  readonly type: string;
  readonly tables: readonly string[] | undefined;
  readonly queue: QueueConfig;
  readonly options: unknown;
}

export type AgentSettings = Omit<z.output<typeof agentConfigSchema>, 'sources' | 'destinations' | 'dataDir'> & { readonly dataDir: string };

export interface AgentConfig extends AgentSettings {
  readonly sources: readonly SourceConfig[];
  readonly destinations: readonly DestinationConfig[];
  /** The file the config came from, if any. */
  readonly file?: string;
}

/** Sink types the CLI resolves itself (the embedded local workspace) rather than through the registry. */
export const BUILTIN_DESTINATION_TYPES = new Map<string, z.ZodType>([
  [
    'local_workspace',
    z.strictObject({}).describe('The embedded local workspace: OMA starts it in-process and delivers to it through the Logs Ingestion API.'),
  ],
]);

function splitCommon(raw: unknown, keys: readonly string[]): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (!keys.includes(k)) rest[k] = v;
  return rest;
}

/**
 * Validates a parsed config document: the top level, then every component against its type's schema.
 * Every problem is collected; a ConfigError lists them all with their paths.
 */
export function parseAgentConfig(doc: unknown, registry: ComponentRegistry, file?: string, platform: PlatformFacts = GENERIC_FACTS): AgentConfig {
  const issues: ConfigIssue[] = [];
  const top = agentConfigSchema.safeParse(doc ?? {}, CONFIG_PARSE);
  if (!top.success) {
    issues.push(...zodIssues(top.error));
    // Go on with the component sections that are readable so that all errors show at once.
  }
  const rawSources = (top.success ? top.data.sources : readSection(doc, 'sources')) ?? {};
  const rawDestinations =
    (top.success ? top.data.destinations : readSection(doc, 'destinations')) ?? { local: { type: 'local_workspace' } };

  const sources: SourceConfig[] = [];
  for (const [id, raw] of Object.entries(rawSources)) {
    const base = ['sources', id];
    const common = sourceCommonSchema.safeParse(raw, CONFIG_PARSE);
    if (!common.success) issues.push(...zodIssues(common.error, base));
    const type = common.success ? common.data.type : typeof (raw as { type?: unknown })?.type === 'string' ? (raw as { type: string }).type : undefined;
    if (type === undefined) continue;
    // An entry for other platforms is not checked here: its type may not exist on this one.
    if (common.success && common.data.platforms && !common.data.platforms.includes(platform.name)) continue;
    const def = registry.source(type);
    if (!def) {
      issues.push({
        path: formatPath([...base, 'type']),
        message: `unknown source type "${type}" (known: ${registry.types('source').join(', ')})`,
      });
      continue;
    }
    const opts = def.schema.safeParse(splitCommon(raw, ['type', 'enabled', 'platforms', 'processors']), CONFIG_PARSE);
    if (!opts.success) issues.push(...zodIssues(opts.error, base));
    if (!common.success) continue;
    const processors: ProcessorConfig[] = [];
    common.data.processors.forEach((p, i) => {
      const pdef = registry.processor(p.type);
      if (!pdef) {
        issues.push({
          path: formatPath([...base, 'processors', i, 'type']),
          message: `unknown processor type "${p.type}" (known: ${registry.types('processor').join(', ') || 'none'})`,
        });
        return;
      }
      const popts = pdef.schema.safeParse(splitCommon(p, ['type']), CONFIG_PARSE);
      if (!popts.success) issues.push(...zodIssues(popts.error, [...base, 'processors', i]));
      else processors.push({ type: p.type, options: popts.data });
    });
    if (opts.success && common.data.enabled) {
      sources.push({ id, type, options: opts.data, processors });
    }
  }

  const destinations: DestinationConfig[] = [];
  for (const [id, raw] of Object.entries(rawDestinations)) {
    const base = ['destinations', id];
    const common = destinationCommonSchema.safeParse(raw, CONFIG_PARSE);
    if (!common.success) issues.push(...zodIssues(common.error, base));
    const type = common.success ? common.data.type : typeof (raw as { type?: unknown })?.type === 'string' ? (raw as { type: string }).type : undefined;
    if (type === undefined) continue;
    const schema = BUILTIN_DESTINATION_TYPES.get(type) ?? registry.sink(type)?.schema;
    if (!schema) {
      const known = [...BUILTIN_DESTINATION_TYPES.keys(), ...registry.types('sink')].sort().join(', ');
      issues.push({ path: formatPath([...base, 'type']), message: `unknown destination type "${type}" (known: ${known})` });
      continue;
    }
    const opts = schema.safeParse(splitCommon(raw, ['type', 'enabled', 'tables', 'queue']), CONFIG_PARSE);
    if (!opts.success) issues.push(...zodIssues(opts.error, base));
    else if (common.success && common.data.enabled) {
      destinations.push({ id, type, tables: common.data.tables, queue: common.data.queue, options: opts.data });
    }
  }
  if (top.success && destinations.length === 0 && Object.keys(rawDestinations).length === 0) {
    issues.push({ path: 'destinations', message: 'at least one destination is needed' });
  }

  if (issues.length > 0 || !top.success) {
    throw new ConfigError(`${file ?? 'config'}: ${issues.length} problem${issues.length === 1 ? '' : 's'}`, issues);
  }
  const { sources: _s, destinations: _d, ...settings } = top.data;
  return { ...settings, dataDir: resolve(settings.dataDir ?? platform.defaults.dataDir), sources, destinations, ...(file ? { file } : {}) };
}

function readSection(doc: unknown, key: string): Record<string, unknown> | undefined {
  if (typeof doc !== 'object' || doc === null) return undefined;
  const v = (doc as Record<string, unknown>)[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) if (COMPONENT_ID_RE.test(k)) out[k] = val;
  return out;
}

/**
 * The key of the mapping entry that starts at `offset` (where the parser reports a duplicate key), and
 * the config path of the mapping that holds it.
 */
function keyAt(doc: Document, offset: number): { key: string; under: string } | undefined {
  let found: { key: string; under: string } | undefined;
  visit(doc, {
    Pair(_, pair, ancestors) {
      const k = pair.key;
      if (!isScalar(k) || k.range?.[0] !== offset) return undefined;
      const path: PropertyKey[] = [];
      ancestors.forEach((node, i) => {
        if (isPair(node) && isScalar(node.key)) path.push(String(node.key.value));
        const child = ancestors[i + 1];
        if (isSeq(node) && child !== undefined) path.push(node.items.indexOf(child));
      });
      found = { key: String(k.value), under: path.length === 0 ? '' : formatPath(path) };
      return visit.BREAK;
    },
  });
  return found;
}

/**
 * Parses YAML (or JSON, a subset of YAML) text; syntax errors become config issues whose path is
 * `line N, column M`. A duplicate key is named, with the path of the mapping that holds it.
 */
export function parseConfigText(text: string, file = 'config'): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      `${file}: not valid YAML or JSON`,
      doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        let message = e.message.split('\n')[0] ?? e.message;
        if (e.code === 'DUPLICATE_KEY') {
          const dup = keyAt(doc, e.pos[0]);
          if (dup) message = `duplicate key ${JSON.stringify(dup.key)}${dup.under ? ` in ${dup.under}` : ''} (each key may appear once)`;
        }
        return { path: `line ${line}, column ${col}`, message };
      }),
    );
  }
  return doc.toJS({ maxAliasCount: 100 }) as unknown;
}

/** Reads and validates a config file. Throws ConfigError (code OMA_ERR_CONFIG_INVALID) listing every problem. */
export async function loadAgentConfig(file: string, registry: ComponentRegistry, platform?: PlatformFacts): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, [
      { path: '(file)', message: `cannot read ${file}` },
    ], { cause: err });
  }
  return parseAgentConfig(parseConfigText(text, file), registry, resolve(file), platform);
}
