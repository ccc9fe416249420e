import { parseArgs } from 'node:util';
import { defaultConfigFile } from './config-file.js';
import type { Platform } from './platform.js';
import { AGENT_VERSION } from './version.js';

// Each command's module (and what it pulls in: the core pipeline, the local workspace's SQLite store, the
// gateway) is imported only when that command runs: a running agent holds no code it never calls.
const loadPlatform = async (): Promise<Platform> => (await import('./platform.js')).loadPlatform();

const USAGE = `oma ${AGENT_VERSION}: the Open Monitoring Agent

Usage:
  oma run [--config FILE]               run the agent (default config: $OMA_CONFIG or config/oma.yaml)
  oma validate --config FILE [--offline]  check a config file (and its data collection rule; --offline:
                                        do not fetch the rule's URL); exit 2 listing every problem
  oma query [TABLE] [options]           rows in the local workspace, newest first (no TABLE: list tables)
      --json                            JSON lines instead of a table
      --limit N                         at most N rows (default 20); the workspace answers at most
                                        10,000 per request, so larger limits are read in pages
      --offset N                        skip the first N rows (with --limit: page by hand)
      --since DURATION|DATE             only rows newer than 10m, 2h, 1d or an ISO date
      --where Column=value              exact match; repeatable
      --url URL | --data-dir DIR | --config FILE   which workspace (default: from the config); the
                                        query token is read from its data dir (or $OMA_QUERY_TOKEN)
  oma workspace serve [--data-dir DIR] [--host H] [--port N] [--tls] [--client-id ID --client-secret S]
                      [--client-certificate PEM] [--workspace-id ID [--shared-key KEY]] [--managed-identity]
                                        run the local workspace on its own
  oma onboard (--workspace-id ID --shared-key KEY | --dce URL --dcr-id ID CREDENTIAL | --local)
              [--proxy URL] [--cloud C] [--config FILE] [--force] [--no-restart]
                                        write the agent's config for a workspace and restart oma.service
                                        (default config: /etc/opt/oma/oma.yaml; oma onboard --help)
  oma gateway --config FILE             run the OMA gateway (HTTP CONNECT proxy with an allowlist)
  oma azure template --config FILE [--destination ID] [--out FILE]
                                        print the ARM template of the DCR and tables the config needs
  oma syslog configure rsyslog|syslog-ng [--facilities LIST] [--level LEVEL] [--transport tcp|unix]
              [--port N] [--socket PATH] [--dry-run] [--no-reload]
                                        forward the syslog daemon's messages to the agent (writes,
                                        validates and loads its snippet; \`oma syslog --help\`: all options)
  oma syslog unconfigure [rsyslog|syslog-ng] [--dry-run] [--no-reload]
                                        remove the snippet configure wrote
  oma service install|uninstall|start|stop|status [--name NAME] [--gateway] [--config FILE] [--account A]
                                        the Windows service (Windows only; oma service --help)
  oma docs config                       print the configuration reference (Markdown)
  oma version
  oma COMMAND --help | oma help COMMAND  the usage of one command
`;

class UsageError extends Error {}

/** The words that name a command in a usage line: `oma workspace serve [--port N]  ...` → workspace, serve. */
function commandWords(synopsis: string): string[] {
  const words: string[] = [];
  for (const w of synopsis.trim().split(/\s+/).slice(1)) {
    if (!/^[a-z][a-z-]*$/.test(w)) break;
    words.push(w);
  }
  return words;
}

/**
 * The usage of one command: the USAGE entries (an `oma ...` line and the indented lines under it) whose
 * command words start with `words` (`['workspace']` or `['workspace', 'serve']`). Undefined when no
 * entry names that command.
 */
export function commandUsage(words: readonly string[]): string | undefined {
  const entries: { words: string[]; text: string }[] = [];
  for (const line of USAGE.split('\n')) {
    if (/^ {2}oma /.test(line)) entries.push({ words: commandWords(line.split(/ {2,}/)[1] ?? line), text: `${line}\n` });
    else if (/^ {3,}\S/.test(line) && entries.length > 0) entries[entries.length - 1]!.text += `${line}\n`;
  }
  let matching = entries.filter((e) => e.words.length > 0 && e.words[0] === words[0]);
  const narrower = matching.filter((e) => words[1] !== undefined && e.words[1] === words[1]);
  if (narrower.length > 0) matching = narrower;
  return matching.length === 0 ? undefined : `Usage:\n${matching.map((e) => e.text).join('')}`;
}

/** True when `--help` or `-h` is among the arguments (before a `--`). */
function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** The leading words of the arguments that are not options: the command and its subcommand. */
function leadingWords(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (a.startsWith('-')) break;
    out.push(a);
  }
  return out;
}

/** Runs the command line; returns the exit code (0 ok, 1 failure, 2 invalid config or usage). */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // `oma COMMAND ... --help` and `oma help COMMAND`: that command's usage on stdout (`oma azure` has its own).
  const helpFor = cmd === 'help' && rest.length > 0 ? leadingWords(rest) : wantsHelp(rest) ? leadingWords(argv) : undefined;
  if (helpFor?.[0] === 'syslog') {
    const { SYSLOG_USAGE } = await import('./commands/syslog.js');
    process.stdout.write(SYSLOG_USAGE);
    return 0;
  }
  if (helpFor?.[0] === 'azure') {
    const { runAzure } = await import('./commands/azure.js');
    const { GENERIC_DEFAULTS } = await import('@oma/core');
    return runAzure([...helpFor.slice(1), '--help'], { name: 'generic', components: [], defaults: GENERIC_DEFAULTS }, process.stdout, process.stderr);
  }
  if (helpFor?.[0] === 'service') {
    process.stdout.write((await import('./commands/service.js')).SERVICE_USAGE);
    return 0;
  }
  if (helpFor?.[0] === 'onboard') {
    process.stdout.write((await import('./commands/onboard.js')).ONBOARD_USAGE);
    return 0;
  }
  const usage = helpFor === undefined ? undefined : commandUsage(helpFor);
  if (usage !== undefined) {
    process.stdout.write(usage);
    return 0;
  }
  try {
    if (helpFor !== undefined) throw new UsageError(`oma: unknown command "${helpFor[0] ?? rest[0] ?? ''}"`);
    switch (cmd) {
      case 'run': {
        const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' } } });
        const { runAgent } = await import('./commands/run.js');
        return await runAgent({ configFile: values.config ?? defaultConfigFile(), platform: await loadPlatform() });
      }
      case 'validate': {
        const { values, positionals } = parseArgs({
          args: rest,
          options: { config: { type: 'string', short: 'c' }, offline: { type: 'boolean', default: false } },
          allowPositionals: true,
        });
        const file = values.config ?? positionals[0];
        if (!file) throw new UsageError('oma validate: --config FILE is required');
        const { validateConfig } = await import('./commands/validate.js');
        return await validateConfig(file, await loadPlatform(), process.stdout, process.stderr, { offline: values.offline });
      }
      case 'query': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            json: { type: 'boolean', default: false },
            limit: { type: 'string', default: '20' },
            offset: { type: 'string' },
            since: { type: 'string' },
            where: { type: 'string', multiple: true, default: [] },
            url: { type: 'string' },
            'data-dir': { type: 'string' },
            config: { type: 'string', short: 'c' },
          },
        });
        const limit = Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError('oma query: --limit takes a positive whole number');
        const offset = values.offset === undefined ? undefined : Number(values.offset);
        if (offset !== undefined && !(Number.isInteger(offset) && offset >= 0)) throw new UsageError('oma query: --offset takes a whole number');
        const { runQuery } = await import('./commands/query.js');
        return await runQuery(
          {
            ...(positionals[0] ? { table: positionals[0] } : {}),
            json: values.json,
            limit,
            ...(offset === undefined ? {} : { offset }),
            ...(values.since ? { since: values.since } : {}),
            where: values.where,
            ...(values.url ? { url: values.url } : {}),
            ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
            ...(values.config ? { configFile: values.config } : {}),
          },
          process.stdout,
        );
      }
      case 'workspace': {
        const [sub, ...wargs] = rest;
        if (sub !== 'serve') throw new UsageError('oma workspace: the subcommand is `serve`');
        const { values } = parseArgs({
          args: wargs,
          options: {
            'data-dir': { type: 'string', default: '.oma/workspace' },
            host: { type: 'string', default: '127.0.0.1' },
            port: { type: 'string', default: '0' },
            'client-id': { type: 'string' },
            'client-secret': { type: 'string' },
            'client-certificate': { type: 'string' },
            'workspace-id': { type: 'string' },
            'shared-key': { type: 'string' },
            'managed-identity': { type: 'boolean', default: false },
            tls: { type: 'boolean', default: false },
          },
        });
        const { serveWorkspace } = await import('./commands/workspace.js');
        return await serveWorkspace(
          {
            dataDir: values['data-dir'],
            host: values.host,
            port: Number(values.port),
            ...(values['client-id'] ? { clientId: values['client-id'] } : {}),
            ...(values['client-secret'] ? { clientSecret: values['client-secret'] } : {}),
            ...(values['client-certificate'] ? { clientCertificateFile: values['client-certificate'] } : {}),
            ...(values['workspace-id'] ? { workspaceId: values['workspace-id'] } : {}),
            ...(values['shared-key'] ? { sharedKey: values['shared-key'] } : {}),
            managedIdentity: values['managed-identity'],
            tls: values.tls,
          },
          process.stdout,
        );
      }
      case 'gateway': {
        const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' } } });
        const { serveGateway } = await import('./commands/gateway.js');
        return await serveGateway(values.config, process.stdout);
      }
      case 'onboard': {
        const { runOnboard } = await import('./commands/onboard.js');
        return await runOnboard(rest, loadPlatform, process.stdout, process.stderr);
      }
      case 'service': {
        const { realServiceSystem, runServiceCommand } = await import('./commands/service.js');
        return await runServiceCommand(rest, realServiceSystem, process.stdout, process.stderr, async (target, configFile) => {
          const win = await import('@oma/windows');
          const { runAsService } = await import('./commands/service-run.js');
          let eventLog;
          try {
            eventLog = win.createEventLogWriter(win.OMA_EVENT_SOURCE);
          } catch {
            eventLog = undefined; // the source is not registered: the log file still has everything
          }
          return await runAsService({ ...target, configFile, dispatcher: win.createServiceDispatcher(), eventLog, loadPlatform, err: process.stderr });
        });
      }
      case 'azure': {
        const { runAzure } = await import('./commands/azure.js');
        return await runAzure(rest, await loadPlatform(), process.stdout, process.stderr);
      }
      case 'syslog': {
        const { runSyslog, systemHost } = await import('./commands/syslog.js');
        return await runSyslog(rest, systemHost, process.stdout, process.stderr);
      }
      case 'docs': {
        if (rest[0] !== 'config') throw new UsageError('oma docs: the subcommand is `config`');
        const { printConfigDocs } = await import('./commands/docs.js');
        process.stdout.write(await printConfigDocs());
        return 0;
      }
      case 'version':
      case '--version':
        process.stdout.write(`${AGENT_VERSION}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`oma: unknown command "${cmd}"`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`oma: ${(err as Error).message}\n`);
    return 1;
  }
}
