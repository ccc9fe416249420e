import {
  type AgentConfig,
  applyDcr,
  type ComponentRegistry,
  ConfigError,
  type ConfigIssue,
  DcrSource,
  dcrReportIssues,
  formatDcrReport,
  loadAgentConfig,
  silentLogger,
} from '@oma/core';
import type { Platform } from '../platform.js';
import { buildRegistry } from '../registry.js';
import { AGENT_VERSION } from '../version.js';

/** Prints a ConfigError's problems, one per line with its path. Returns false for other errors. */
export function printConfigError(err: unknown, out: NodeJS.WritableStream): boolean {
  const e = err as { code?: string; message?: string; issues?: readonly ConfigIssue[] };
  if (e?.code !== 'OMA_ERR_CONFIG_INVALID') return false;
  out.write(`${e.message}\n`);
  for (const i of e.issues ?? []) out.write(`  ${i.path}: ${i.message}\n`);
  return true;
}

export interface ValidateOptions {
  /** Do not fetch a data collection rule from its URL; check the cached copy if there is one. */
  readonly offline?: boolean;
}

/**
 * Warnings about the config on this machine that do not make it invalid (a file pattern that names a
 * directory, a counter this OS does not have): each source type's `configWarnings`.
 */
async function machineWarnings(cfg: AgentConfig, registry: ComponentRegistry): Promise<ConfigIssue[]> {
  const out: ConfigIssue[] = [];
  for (const s of cfg.sources) {
    const def = registry.source(s.type);
    if (def?.configWarnings) out.push(...(await def.configWarnings(s.options, ['sources', s.id])));
  }
  return out;
}

/**
 * `oma validate --config FILE [--offline]`: 0 when valid, 2 when not (every problem printed with its
 * path), 1 when the data collection rule's URL cannot be fetched. The rule's warnings and notes are
 * printed too, and warnings about this machine (a file pattern that names a directory).
 */
export async function validateConfig(
  file: string,
  platform: Platform,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  opts: ValidateOptions = {},
): Promise<number> {
  const registry = buildRegistry(platform);
  let cfg: AgentConfig;
  try {
    cfg = await loadAgentConfig(file, registry, platform);
  } catch (e) {
    if (printConfigError(e, err)) return 2;
    throw e;
  }
  const rule = cfg.dataCollectionRule;
  let fromRule = 0;
  if (rule) {
    const source = new DcrSource({ settings: rule, dataDir: cfg.dataDir, log: silentLogger(), userAgent: `OMA/${AGENT_VERSION}` });
    try {
      let json: unknown;
      if (rule.kind === 'url' && opts.offline) {
        json = (await source.readCache())?.json;
        out.write(
          json === undefined
            ? `${file}: data collection rule ${source.location} not fetched (--offline) and not cached: its sources are not checked\n`
            : `${file}: data collection rule ${source.location} not fetched (--offline): checking the cached copy\n`,
        );
      } else {
        const r = await source.load();
        if (r.json === undefined) {
          if (rule.kind === 'file') {
            printConfigError(new ConfigError(`${file}: the data collection rule cannot be used`, [{ path: 'dataCollectionRule.file', message: r.error ?? 'not read' }]), err);
            return 2;
          }
          err.write(`${file}: data collection rule ${source.location} cannot be fetched: ${r.error ?? 'unknown error'} (--offline skips it)\n`);
          return 1;
        }
        if (r.error) err.write(`${file}: data collection rule ${source.location} cannot be fetched (${r.error}): checking the cached copy\n`);
        json = r.json;
      }
      if (json !== undefined) {
        const app = applyDcr(cfg, json, registry);
        for (const line of formatDcrReport(app.mapping.report.filter((r) => r.severity !== 'error'))) out.write(`  ${line}\n`);
        if (!app.ok) {
          const issues = dcrReportIssues(app.mapping.report);
          printConfigError(new ConfigError(`${file}: data collection rule ${source.location}: ${issues.length} problem${issues.length === 1 ? '' : 's'}`, issues), err);
          return 2;
        }
        fromRule = app.mapping.configs.length;
        cfg = app.config;
      }
    } finally {
      await source.close();
    }
  }
  const warnings = await machineWarnings(cfg, registry);
  for (const w of warnings) out.write(`  warning  ${w.path}: ${w.message}\n`);
  const ruleNote = rule ? ` (${fromRule} from the data collection rule)` : '';
  const warningNote = warnings.length > 0 ? `, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : '';
  out.write(`${file}: valid (${cfg.sources.length} sources${ruleNote}, ${cfg.destinations.length} destinations)${warningNote}\n`);
  return 0;
}
