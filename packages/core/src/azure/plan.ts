import type { AgentConfig, DestinationConfig } from '../config/agent-config.js';
import { ConfigError, type ConfigIssue } from '../errors.js';
import type { ComponentRegistry } from '../pipeline/registry.js';
import { tableRoute, type TableRoute } from './streams.js';

/** Sink type whose destinations send to Azure through a data collection rule. */
export const AZURE_LOGS_INGESTION_TYPE = 'azure_logs_ingestion';

/** One data flow of the DCR: an input stream and the route its records take. */
export interface StreamFlow {
  /** Input stream: the table's default `Custom-<table>`, or a destination's `streams` override. */
  readonly stream: string;
  readonly route: TableRoute;
}

/** What a DCR must declare for a config: its tables, input streams and custom tables. */
export interface AzureStreamsPlan {
  /** Ids of the `azure_logs_ingestion` destinations the plan covers (empty: the config has none). */
  readonly destinations: readonly string[];
  /** Record-model tables sent to Azure, sorted. */
  readonly tables: readonly string[];
  /** One per distinct input stream, sorted by stream name. */
  readonly flows: readonly StreamFlow[];
  /** Custom `_CL` tables the workspace needs (mirrors and custom logs), one route each, sorted by name. */
  readonly customTables: readonly TableRoute[];
  /** Things the user should know, e.g. sources whose tables are unknown. */
  readonly warnings: readonly string[];
}

export interface AzureStreamsPlanOptions {
  /** Only this destination (must be an `azure_logs_ingestion` destination). */
  readonly destination?: string;
}

interface SourceTables {
  readonly id: string;
  readonly tables: readonly string[] | undefined;
}

function streamOverrides(d: DestinationConfig): Readonly<Record<string, string>> {
  const streams = (d.options as { streams?: Record<string, string> } | undefined)?.streams;
  return streams ?? {};
}

/**
 * Works out the streams and tables a config sends to Azure: the union of the enabled sources' output
 * tables, per `azure_logs_ingestion` destination filtered by its `tables` list and with its `streams`
 * overrides; every such destination, or only `options.destination`; with none, every table of the config.
 * Throws ConfigError (with paths) when the config cannot be expressed as one Direct DCR.
 */
export function planAzureStreams(config: AgentConfig, registry: ComponentRegistry, options: AzureStreamsPlanOptions = {}): AzureStreamsPlan {
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];

  const sources: SourceTables[] = config.sources.map((s) => {
    const def = registry.source(s.type);
    return { id: s.id, tables: def?.outputTables ? [...def.outputTables(s.options)] : undefined };
  });
  const known = new Set(sources.flatMap((s) => s.tables ?? []));
  const unknown = sources.filter((s) => s.tables === undefined);
  for (const s of unknown) {
    const type = config.sources.find((c) => c.id === s.id)?.type ?? '?';
    warnings.push(`source ${s.id} (type ${type}) does not declare its tables; list them in the destination's tables option to include them`);
  }

  let destinations: DestinationConfig[];
  if (options.destination !== undefined) {
    const d = config.destinations.find((x) => x.id === options.destination);
    if (!d) {
      const ids = config.destinations.filter((x) => x.type === AZURE_LOGS_INGESTION_TYPE).map((x) => x.id);
      throw new ConfigError(`no destination ${options.destination}`, [
        {
          path: `destinations.${options.destination}`,
          message: `no such enabled destination (azure_logs_ingestion destinations: ${ids.join(', ') || 'none'})`,
        },
      ]);
    }
    if (d.type !== AZURE_LOGS_INGESTION_TYPE) {
      throw new ConfigError(`destination ${d.id} does not send to Azure`, [
        { path: `destinations.${d.id}.type`, message: `is ${d.type}; only ${AZURE_LOGS_INGESTION_TYPE} destinations use a data collection rule` },
      ]);
    }
    destinations = [d];
  } else {
    destinations = config.destinations.filter((d) => d.type === AZURE_LOGS_INGESTION_TYPE);
  }

  /** stream -> flow, and where it was asked for (for error paths). */
  const flows = new Map<string, { flow: StreamFlow; path: string }>();
  const addFlow = (table: string, stream: string, path: string): void => {
    const route = tableRoute(table);
    if (!stream.startsWith('Custom-')) {
      issues.push({ path, message: `${stream}: the Logs Ingestion API only accepts Custom- input streams; use ${route.stream} (its data flow goes on to ${route.outputStream})` });
      return;
    }
    const prev = flows.get(stream);
    if (prev && prev.flow.route.table !== table) {
      issues.push({ path, message: `stream ${stream} already carries table ${prev.flow.route.table} (${prev.path}); a stream has one declaration` });
      return;
    }
    if (!prev) flows.set(stream, { flow: { stream, route }, path });
  };

  const tables = new Set<string>();
  if (destinations.length === 0) {
    for (const t of known) {
      tables.add(t);
      addFlow(t, tableRoute(t).stream, 'sources');
    }
  } else {
    for (const d of destinations) {
      const candidates = new Set(known);
      if (unknown.length > 0 && d.tables) for (const t of d.tables) candidates.add(t);
      const overrides = streamOverrides(d);
      for (const t of candidates) {
        if (d.tables && !d.tables.includes(t)) continue;
        tables.add(t);
        const stream = Object.hasOwn(overrides, t) ? overrides[t]! : tableRoute(t).stream;
        addFlow(t, stream, Object.hasOwn(overrides, t) ? `destinations.${d.id}.streams.${t}` : `destinations.${d.id}`);
      }
    }
  }

  // Two tables must not land in one output table (a custom log named like a mirror table, Heartbeat_CL).
  const byOutput = new Map<string, TableRoute>();
  for (const t of [...tables].sort()) {
    const route = tableRoute(t);
    const prev = byOutput.get(route.outputTable);
    if (prev && prev.table !== t) {
      const custom = route.table === route.outputTable ? route.table : prev.table;
      const other = custom === t ? prev.table : t;
      const src = sources.find((s) => s.tables?.includes(custom));
      issues.push({
        path: src ? `sources.${src.id}` : 'sources',
        message: `table ${custom} is where OMA stores ${other} records in Azure; give the custom log another table name`,
      });
      continue;
    }
    byOutput.set(route.outputTable, route);
  }

  if (tables.size === 0 && issues.length === 0) {
    const hint = unknown.length > 0 ? ` (sources ${unknown.map((s) => s.id).join(', ')} do not declare their tables; list them in the destination's tables option)` : '';
    issues.push({
      path: destinations.length > 0 ? `destinations.${destinations[0]!.id}` : 'sources',
      message:
        destinations.length > 0
          ? `no table of the config goes to this destination, so the data collection rule would have no data flow${hint}`
          : `no source writes a table, so the data collection rule would have no data flow${hint}`,
    });
  }
  if (issues.length > 0) {
    throw new ConfigError(`${config.file ?? 'config'}: cannot build a data collection rule (${issues.length} problem${issues.length === 1 ? '' : 's'})`, issues);
  }

  return {
    destinations: destinations.map((d) => d.id),
    tables: [...tables].sort(),
    flows: [...flows.values()].map((f) => f.flow).sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0)),
    customTables: [...byOutput.values()].filter((r) => !r.standard).sort((a, b) => (a.outputTable < b.outputTable ? -1 : 1)),
    warnings,
  };
}
