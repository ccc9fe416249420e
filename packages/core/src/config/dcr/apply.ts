import type { ConfigIssue } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import type { ComponentRegistry } from '../../pipeline/registry.js';
import type { AgentConfig } from '../agent-config.js';
import { type DcrMapping, type DcrReportItem, dcrReportOk, mapDcrToSources } from './mapper.js';

export interface DcrApplication {
  /** False when the report has an error: `config` is then the base config, unchanged. */
  readonly ok: boolean;
  /** The effective config: the config file's sources followed by the rule's. */
  readonly config: AgentConfig;
  readonly mapping: DcrMapping;
}

/**
 * Combines the config file with a data collection rule: the rule's sources are added to the file's.
 * A rule with errors (or whose source ids clash with the file's) is not applied.
 */
export function applyDcr(base: AgentConfig, dcr: unknown, registry: ComponentRegistry): DcrApplication {
  const mapping = mapDcrToSources(dcr, registry, { reservedIds: base.sources.map((s) => s.id) });
  const ok = dcrReportOk(mapping.report);
  return { ok, mapping, config: ok ? { ...base, sources: [...base.sources, ...mapping.configs] } : base };
}

/** Label of a report line: `dataCollectionRule: <path in the rule>`. */
export function dcrIssuePath(item: Pick<DcrReportItem, 'path'>): string {
  return `dataCollectionRule: ${item.path}`;
}

/** The errors of a report as config issues (paths `dataCollectionRule: properties.dataSources...`). */
export function dcrReportIssues(report: readonly DcrReportItem[]): ConfigIssue[] {
  return report.filter((r) => r.severity === 'error').map((r) => ({ path: dcrIssuePath(r), message: r.message }));
}

/** One line per finding: `warning  dataCollectionRule: properties.dataSources.syslog[0]: ...`. */
export function formatDcrReport(report: readonly DcrReportItem[]): string[] {
  return report.map((r) => `${r.severity.padEnd(7)}  ${dcrIssuePath(r)}: ${r.message}`);
}

/** Logs each finding at its level (error, warn, info). */
export function logDcrReport(log: Logger, report: readonly DcrReportItem[]): void {
  for (const r of report) {
    const fields = { path: r.path, reason: r.message };
    if (r.severity === 'error') log.error(fields, 'data collection rule: invalid');
    else if (r.severity === 'warning') log.warn(fields, 'data collection rule: not applied');
    else log.info(fields, 'data collection rule: note');
  }
}
