import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AgentConfig,
  applyDcr,
  type ComponentRegistry,
  ConfigError,
  type DcrLoadResult,
  dcrReportIssues,
  DcrSource,
  DcrWatcher,
  type DestinationConfig,
  type HostDescription,
  loadAgentConfig,
  logDcrReport,
  type Logger,
  MetricsRegistry,
  ObservabilityServer,
  Pipeline,
  type PipelineStatus,
  redactedUrl,
} from '@oma/core';
import type { LocalWorkspace } from '@oma/local-workspace';
import { formatBytes } from '../format.js';
import { setUpLogging, type AgentLogging, type LoggingOptions } from '../logging.js';
import type { Platform } from '../platform.js';
import { buildRegistry } from '../registry.js';
import { AGENT_VERSION } from '../version.js';
import { printConfigError } from './validate.js';

export interface RunOptions {
  readonly configFile: string;
  readonly platform: Platform;
  readonly out?: NodeJS.WritableStream;
  /** Stops the agent like SIGTERM when it settles (the Windows service's stop and shutdown controls). */
  readonly stop?: Promise<unknown>;
  /** Called once the agent runs (the Windows service then reports RUNNING). */
  readonly onStarted?: () => void;
  /** Logging settings that replace the config's (the Windows service: no console, a file, the event log). */
  readonly logging?: Pick<LoggingOptions, 'console' | 'streams'> & { readonly file?: boolean };
}

/** The embedded local workspace and the credentials OMA's sink uses against it. */
interface EmbeddedWorkspace {
  readonly workspace: LocalWorkspace;
  readonly clientId: string;
  readonly clientSecret: string;
}

function statusLine(s: PipelineStatus, withHealth = true): string {
  const tables = s.tables.map((t) => `${t.table} ${t.in}/${t.out}`).join('  ') || 'no records yet';
  const queues = s.destinations
    .map((d) => `${d.id} ${formatBytes(d.queueBytes)}${d.queueRecords ? ` (${d.queueRecords} records, oldest ${d.oldestAgeSec}s)` : ''}${d.noSpace ? ` DISK FULL (${formatBytes(d.deviceFreeBytes ?? 0)} free)` : ''}${d.healthy || !withHealth ? '' : ' UNHEALTHY'}`)
    .join(', ');
  return `status  records in/out: ${tables}  |  queue: ${queues}  |  errors ${s.errors}  dropped ${s.dropped}`;
}

/**
 * One running agent: the embedded workspace (when a destination asks for it), the pipeline, the metrics
 * endpoint. `reload` swaps the pipeline for one built from the new config; queues stay on disk meanwhile.
 */
class Agent {
  private pipeline: Pipeline | undefined;
  private obs: ObservabilityServer | undefined;
  private embedded: EmbeddedWorkspace | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  readonly metrics = new MetricsRegistry();

  constructor(
    private config: AgentConfig,
    private readonly registry: ComponentRegistry,
    private readonly platform: Platform,
    private readonly logging: AgentLogging,
    private readonly out: NodeJS.WritableStream,
  ) {}

  get log(): Logger {
    return this.logging.log;
  }

  private async host(): Promise<HostDescription> {
    const h = await this.platform.hostInfo.describe();
    return this.config.computerName ? { ...h, computer: this.config.computerName } : h;
  }

  private async ensureWorkspace(): Promise<void> {
    const wanted = this.config.destinations.some((d) => d.type === 'local_workspace');
    if (!wanted || this.embedded) return;
    const lw = this.config.localWorkspace;
    const clientId = randomUUID();
    const clientSecret = randomBytes(24).toString('base64url');
    // Imported here: an agent without a local_workspace destination never loads SQLite and the token issuer.
    const { LocalWorkspace } = await import('@oma/local-workspace');
    const workspace = await LocalWorkspace.start({
      dataDir: lw.dataDir ?? join(this.config.dataDir, 'local-workspace'),
      host: lw.host,
      port: lw.port,
      clients: [{ clientId, clientSecret }],
      retentionRows: lw.maxRows,
      tls: lw.tls,
      log: this.log.child({ component: 'local-workspace', kind: 'server' }),
    });
    this.embedded = { workspace, clientId, clientSecret };
  }

  /** `local_workspace` destinations become Logs Ingestion sinks pointed at the embedded workspace. */
  private resolveDestination = (d: DestinationConfig): { type: string; options: unknown } => {
    const e = this.embedded;
    if (d.type !== 'local_workspace' || !e) throw new Error(`destination ${d.id}: type ${d.type} cannot be resolved`);
    const sink = this.registry.sink('azure_logs_ingestion');
    if (!sink) throw new Error('the azure_logs_ingestion sink is not registered');
    const options = sink.schema.parse({
      endpoint: e.workspace.url,
      dcrImmutableId: e.workspace.dcrImmutableId,
      auth: {
        type: 'client_secret',
        tenantId: e.workspace.tenantId,
        clientId: e.clientId,
        clientSecret: e.clientSecret,
        authorityHost: e.workspace.url,
      },
      ...(e.workspace.caFile ? { tls: { caFile: e.workspace.caFile } } : {}),
    });
    return { type: 'azure_logs_ingestion', options };
  };

  async start(): Promise<void> {
    await mkdir(this.config.dataDir, { recursive: true, mode: 0o700 });
    const logFileErrors = this.metrics.counter('oma_log_file_write_errors_total', 'Failed writes to the log file (the lines still went to stderr).');
    this.logging.onFileError = () => logFileErrors.inc({});
    await this.ensureWorkspace();
    this.pipeline = await this.buildPipeline();
    const obsCfg = this.config.observability;
    if (obsCfg.enabled) {
      try {
        this.obs = await ObservabilityServer.start({
          host: obsCfg.host,
          port: obsCfg.port,
          registry: this.metrics,
          log: this.log,
          health: () => ({ healthy: this.pipeline?.healthy() ?? false, detail: this.pipeline?.status().destinations }),
        });
      } catch (err) {
        // A busy port must not stop collection: run without the endpoint and say so.
        this.log.error({ err, port: obsCfg.port }, 'metrics endpoint not started');
      }
    }
    this.metrics.onCollect(() => this.pipeline?.collect());
    this.printBanner();
    if (this.config.statusIntervalMs > 0) {
      this.statusTimer = setInterval(() => {
        if (this.pipeline) this.out.write(`${new Date().toISOString()}  ${statusLine(this.pipeline.status())}\n`);
      }, this.config.statusIntervalMs);
      this.statusTimer.unref();
    }
  }

  private async buildPipeline(): Promise<Pipeline> {
    return Pipeline.start({
      config: this.config,
      registry: this.registry,
      log: this.log,
      metricsRegistry: this.metrics,
      host: await this.host(),
      agentVersion: AGENT_VERSION,
      resolveDestination: this.resolveDestination,
    });
  }

  private printBanner(): void {
    const lines = [
      `OMA ${AGENT_VERSION} running (pid ${process.pid})`,
      `  config:          ${this.config.file ?? '(built in)'}`,
      `  data:            ${this.config.dataDir}`,
      `  logs:            ${this.logging.file ?? 'stderr only'}`,
      `  metrics:         ${this.obs ? `${this.obs.url}/metrics  (health: ${this.obs.url}/healthz)` : 'off'}`,
    ];
    const rule = this.config.dataCollectionRule;
    if (rule) lines.push(`  rule (DCR):      ${rule.kind === 'file' ? rule.file : redactedUrl(rule.url)}  (sources dcr-*)`);
    if (this.embedded) {
      lines.push(`  local workspace: ${this.embedded.workspace.url}  (query: npx oma query <Table>)`);
    }
    for (const s of this.config.sources) {
      const o = s.options as { filePatterns?: string[]; table?: string };
      if (o.filePatterns) lines.push(`  source ${s.id}: ${o.filePatterns.join(', ')} -> ${o.table ?? ''}`);
      else lines.push(`  source ${s.id}: ${s.type}`);
    }
    for (const d of this.config.destinations) lines.push(`  destination ${d.id}: ${d.type}${d.tables ? ` (${d.tables.join(', ')})` : ''}`);
    lines.push('  Ctrl-C stops.');
    this.out.write(`${lines.join('\n')}\n`);
  }

  /** Applies a new config: sources stop (positions saved), queues close, then everything starts again. */
  async reload(next: AgentConfig): Promise<void> {
    this.log.info({ config: next.file }, 'reloading config');
    await this.pipeline?.stop(next.shutdownTimeoutMs);
    this.pipeline = undefined;
    this.config = next;
    await this.ensureWorkspace();
    this.pipeline = await this.buildPipeline();
    this.log.info('config reloaded');
  }

  async stop(): Promise<void> {
    if (this.statusTimer) clearInterval(this.statusTimer);
    await this.pipeline?.stop(this.config.shutdownTimeoutMs);
    await this.obs?.close();
    await this.embedded?.workspace.close();
    this.out.write(`${this.pipeline ? `${statusLine(this.pipeline.status(), false)}\n` : ''}OMA stopped.\n`);
  }
}

/** Where the data collection rule's sources come from while the agent runs. */
interface RuleBinding {
  readonly source: DcrSource;
  readonly watcher: DcrWatcher;
}

function problems(n: number): string {
  return `${n} problem${n === 1 ? '' : 's'}`;
}

/**
 * `oma run`: runs until SIGINT/SIGTERM (or `opts.stop`); SIGHUP reloads the config. A data collection rule named by the
 * config adds its sources and is polled; a change is applied like SIGHUP (queues stay on disk). Returns
 * the exit code.
 */
export async function runAgent(opts: RunOptions): Promise<number> {
  const out = opts.out ?? process.stdout;
  const registry = buildRegistry(opts.platform);
  /** The config file as last loaded successfully, without the rule's sources. */
  let base: AgentConfig;
  try {
    base = await loadAgentConfig(opts.configFile, registry, opts.platform);
  } catch (err) {
    if (printConfigError(err, process.stderr)) return 2;
    throw err;
  }
  // The agent reads logs that only root may read, and queues what it read: what it creates under its data
  // directory (queues, checkpoints, logs, the local workspace's database) is for its own user only.
  if (process.platform !== 'win32') process.umask(0o077);
  const logging = setUpLogging({
    level: base.log.level,
    dir: (opts.logging?.file ?? base.log.file) ? join(base.dataDir, 'logs') : undefined,
    maxFileBytes: base.log.maxFileBytes,
    pretty: process.stderr.isTTY,
    ...(opts.logging?.console !== undefined ? { console: opts.logging.console } : {}),
    ...(opts.logging?.streams !== undefined ? { streams: opts.logging.streams } : {}),
  });
  const log = logging.log;
  const ruleLog = log.child({ component: 'data-collection-rule', kind: 'config' });
  // Last line of defence: a bug in one component is logged, never takes the agent down.
  process.on('uncaughtException', (err) => log.fatal({ err }, 'uncaught exception; continuing'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection; continuing'));

  const openRule = (cfg: AgentConfig): DcrSource | undefined =>
    cfg.dataCollectionRule
      ? new DcrSource({ settings: cfg.dataCollectionRule, dataDir: cfg.dataDir, log: ruleLog, userAgent: `OMA/${AGENT_VERSION}` })
      : undefined;

  /** The config file plus the rule's sources; throws a ConfigError when the rule cannot be applied. */
  const compose = (fileCfg: AgentConfig, source: DcrSource | undefined, r: DcrLoadResult | undefined): AgentConfig => {
    if (!source || !r) return fileCfg;
    if (r.json === undefined) {
      if (fileCfg.dataCollectionRule?.kind === 'file') {
        throw new ConfigError(`data collection rule ${source.location} cannot be used`, [{ path: 'dataCollectionRule.file', message: r.error ?? 'not read' }]);
      }
      ruleLog.warn({ endpoint: source.location }, 'no data collection rule yet; running the config file sources until it can be fetched');
      return fileCfg;
    }
    const app = applyDcr(fileCfg, r.json, registry);
    logDcrReport(ruleLog, app.mapping.report);
    if (!app.ok) {
      const issues = dcrReportIssues(app.mapping.report);
      throw new ConfigError(`data collection rule ${source.location}: ${problems(issues.length)}`, issues);
    }
    ruleLog.info({ location: source.location, from: r.from, count: app.mapping.configs.length }, 'data collection rule accepted');
    return app.config;
  };

  // The rule at start: a file must be valid (like the config file); a URL's rule falls back to its
  // cached copy, else the agent runs the config file's sources and keeps polling.
  const source = openRule(base);
  let config: AgentConfig;
  try {
    const first = await source?.load();
    try {
      config = compose(base, source, first);
      if (source && first?.json !== undefined) await source.saveCache(first.json, first.etag);
    } catch (err) {
      if (base.dataCollectionRule?.kind !== 'url' || !source) throw err;
      ruleLog.error({ err, issues: (err as ConfigError).issues }, 'data collection rule rejected');
      config = base;
      const cached = await source.readCache();
      if (cached) {
        try {
          config = compose(base, source, { changed: true, json: cached.json, etag: cached.etag, from: 'cache' });
        } catch (e) {
          ruleLog.error({ err: e, issues: (e as ConfigError).issues }, 'cached data collection rule rejected too; running the config file sources');
        }
      }
    }
  } catch (err) {
    await source?.close();
    logging.close();
    if (printConfigError(err, process.stderr)) return 2;
    throw err;
  }

  const agent = new Agent(config, registry, opts.platform, logging, out);
  try {
    await agent.start();
  } catch (err) {
    log.fatal({ err }, 'agent failed to start');
    await agent.stop().catch(() => undefined);
    await source?.close();
    logging.close();
    return 1;
  }
  opts.onStarted?.();

  // Reloads (SIGHUP, rule changes) run one at a time, in order.
  let reloading = Promise.resolve();
  const enqueue = (task: () => Promise<void>): Promise<void> => {
    reloading = reloading.then(task).catch((err: unknown) => log.error({ err }, 'reload failed'));
    return reloading;
  };
  /** Applies `next`; on a failure that is not a config problem, brings the pipeline back from the running config. */
  const reloadTo = async (next: AgentConfig): Promise<boolean> => {
    try {
      await agent.reload(next);
      config = next;
      return true;
    } catch (err) {
      log.error({ err, issues: (err as { issues?: unknown }).issues }, 'config reload failed; keeping the running config');
      if ((err as { code?: string }).code !== 'OMA_ERR_CONFIG_INVALID') {
        // The old pipeline was stopped: bring it back from the last good config.
        await agent.reload(config).catch((e: unknown) => log.fatal({ err: e }, 'cannot restart the pipeline'));
      }
      return false;
    }
  };

  // A watcher belongs to one generation; a change it reports after SIGHUP replaced it is dropped.
  let generation = 0;
  const watchRule = (src: DcrSource | undefined, cfg: AgentConfig): RuleBinding | undefined => {
    if (!src || !cfg.dataCollectionRule) return undefined;
    const gen = generation;
    const watcher = new DcrWatcher({
      source: src,
      intervalMs: cfg.dataCollectionRule.pollIntervalMs,
      log: ruleLog,
      onChange: (r) =>
        enqueue(async () => {
          if (gen !== generation) return;
          let next: AgentConfig;
          try {
            next = compose(base, src, r);
          } catch (err) {
            ruleLog.error({ err, issues: (err as ConfigError).issues }, 'data collection rule rejected; keeping the running config');
            return;
          }
          ruleLog.info({ location: src.location }, 'data collection rule changed; reloading');
          if (await reloadTo(next)) await src.saveCache(r.json, r.etag);
        }),
    });
    watcher.start();
    return { source: src, watcher };
  };
  let rule = watchRule(source, base);

  const onHup = (): void => {
    void enqueue(async () => {
      let nextBase: AgentConfig;
      try {
        nextBase = await loadAgentConfig(opts.configFile, registry, opts.platform);
      } catch (err) {
        log.error({ err, issues: (err as { issues?: unknown }).issues }, 'config reload failed; keeping the running config');
        return;
      }
      const nextSource = openRule(nextBase);
      let next: AgentConfig;
      let first: DcrLoadResult | undefined;
      try {
        first = await nextSource?.load();
        next = compose(nextBase, nextSource, first);
      } catch (err) {
        log.error({ err, issues: (err as { issues?: unknown }).issues }, 'config reload failed; keeping the running config');
        await nextSource?.close();
        return;
      }
      if (!(await reloadTo(next))) {
        await nextSource?.close();
        return;
      }
      base = nextBase;
      generation++;
      const old = rule;
      // Not awaited: the old watcher may be waiting for this very queue.
      if (old) void old.watcher.stop().then(() => old.source.close());
      rule = watchRule(nextSource, nextBase);
      if (nextSource && first?.json !== undefined) await nextSource.saveCache(first.json, first.etag);
    });
  };
  process.on('SIGHUP', onHup);

  // Signal handlers do not keep Node's event loop alive and every library timer is unref'd: this one
  // holds the process until a stop signal arrives.
  const keepAlive = setInterval(() => undefined, 3_600_000);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    opts.stop?.then(
      (reason) => resolve(typeof reason === 'string' ? reason : 'stop'),
      () => resolve('stop'),
    );
  });
  process.off('SIGHUP', onHup);
  log.info({ signal }, 'stopping');
  // A second Ctrl-C while stopping ends the process at once.
  process.once('SIGINT', () => process.exit(130));
  generation++;
  const last = rule;
  await last?.watcher.stop();
  await reloading;
  await agent.stop();
  await last?.source.close();
  clearInterval(keepAlive);
  logging.close();
  return 0;
}
