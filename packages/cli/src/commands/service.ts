import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { EventLogWriter, EventSourceRegistry, ServiceControlManager, ServiceDispatcher, ServiceQuery, ServiceSpec } from '@oma/windows';

export const SERVICE_USAGE = `Usage:
  oma service install [--config FILE] [--account ACCOUNT [--password P]] [--name NAME] [--gateway] [--manual]
      creates the Windows service (automatic, delayed start; LocalSystem unless --account, e.g.
      "NT AUTHORITY\\NetworkService"), restarted by Windows when it fails, and the event source OMA
  oma service uninstall [--name NAME] [--gateway]   stops and deletes the service
  oma service start|stop [--name NAME] [--gateway] [--timeout SECONDS]
                                        starts or stops it and waits for the state (default 60 s)
  oma service status [--name NAME] [--gateway]      prints its state (exit 0 running, 3 not running,
                                        4 not installed)
  oma service run [--config FILE] [--name NAME] [--gateway]
                                        what the service runs (started by the Service Control Manager)
      --gateway                         the OMA gateway (\`oma gateway\`) instead of the agent; its service
                                        is named oma-gateway unless --name says otherwise
      --config FILE                     default %ProgramData%\\OMA\\oma.yaml (gateway: gateway.yaml)
  Windows only: on Linux the package runs the agent as the systemd unit oma.service.
`;

/** The event log and source OMA writes its own events as. */
export const EVENT_LOG = 'Application';
export const EVENT_SOURCE = 'OMA';
/**
 * The message file the event source is registered with: .NET Framework's, whose every event id is the
 * text "%1" (the message as OMA wrote it). Present on every Windows Server since 2012.
 */
export const EVENT_MESSAGE_FILE = '%SystemRoot%\\Microsoft.NET\\Framework64\\v4.0.30319\\EventLogMessages.dll';

/** Restart after 1 minute, twice, then after 5 minutes; the count resets after a day (as MMA's HealthService). */
export const FAILURE_ACTIONS = { restartDelaysMs: [60_000, 60_000, 300_000], resetPeriodSec: 86_400 } as const;

/** What the `oma service` command reaches; replaced by fakes in tests. */
export interface ServiceSystem {
  readonly platform: NodeJS.Platform;
  /** %ProgramData% */
  readonly programData: string;
  /** The node executable (the bundled node.exe in the Windows package). */
  readonly execPath: string;
  /** The CLI's entry script (bin/oma.js). */
  readonly cliPath: string;
  scm(): ServiceControlManager;
  eventSources(): EventSourceRegistry;
  sleep(ms: number): Promise<void>;
}

/** This machine; @oma/windows is imported on Windows only. */
export async function realServiceSystem(): Promise<ServiceSystem> {
  const cliPath = fileURLToPath(new URL('../../bin/oma.js', import.meta.url));
  if (process.platform !== 'win32') {
    const none = (): never => {
      throw new Error('Windows only');
    };
    return { platform: process.platform, programData: '', execPath: process.execPath, cliPath, scm: none, eventSources: none, sleep: (ms) => delay(ms) };
  }
  const win = await import('@oma/windows');
  return {
    platform: process.platform,
    programData: process.env.ProgramData ?? 'C:\\ProgramData',
    execPath: process.execPath,
    cliPath,
    scm: () => win.createServiceControlManager(),
    eventSources: () => win.createEventSourceRegistry(),
    sleep: (ms) => delay(ms),
  };
}

class ServiceUsageError extends Error {}

interface Target {
  readonly name: string;
  readonly gateway: boolean;
}

/** `"C:\Program Files\OMA\node.exe"`: quoted for a service command line (a path holds no quote). */
const quote = (s: string): string => `"${s}"`;

/** The service `oma service install` creates for these options. */
export function serviceSpec(t: Target, configFile: string, sys: Pick<ServiceSystem, 'execPath' | 'cliPath'>, account?: string, password?: string, manual = false): ServiceSpec {
  const args = [quote(sys.execPath), quote(sys.cliPath), 'service', 'run', '--name', quote(t.name), ...(t.gateway ? ['--gateway'] : []), '--config', quote(configFile)];
  return {
    name: t.name,
    displayName: t.gateway ? 'OMA gateway' : 'OMA (Open Monitoring Agent)',
    description: t.gateway
      ? 'Forwards the agents\u2019 HTTPS connections to Azure Monitor (HTTP CONNECT with an allowlist).'
      : 'Collects Windows Event Log, performance counters and logs into Azure Monitor Log Analytics.',
    binaryPath: args.join(' '),
    startType: manual ? 'manual' : 'automatic',
    delayedStart: !manual,
    ...(account !== undefined ? { account } : {}),
    ...(password !== undefined ? { password } : {}),
    failureActions: { restartDelaysMs: [...FAILURE_ACTIONS.restartDelaysMs], resetPeriodSec: FAILURE_ACTIONS.resetPeriodSec },
    preshutdownTimeoutMs: 60_000,
  };
}

const win32 = (err: unknown): number | undefined => (err as { win32?: number }).win32;

function describeState(name: string, q: ServiceQuery | undefined): string {
  if (!q) return `${name}: not installed`;
  const state = q.state.replace('_', ' ');
  const pid = q.pid > 0 ? ` (pid ${q.pid})` : '';
  const exit = q.state === 'stopped' && q.win32ExitCode !== 0 ? `, last exit ${q.win32ExitCode === 1066 ? `code ${q.serviceSpecificExitCode} (${exitMeaning(q.serviceSpecificExitCode)})` : `Win32 error ${q.win32ExitCode}`}` : '';
  return `${name}: ${state}${pid}${exit}`;
}

/** What a service-specific exit code of `oma service run` means. */
export function exitMeaning(code: number): string {
  if (code === 2) return 'the config is not valid: oma validate --config FILE';
  if (code === 1) return 'the agent failed to start: see the Application event log and the log file';
  return 'see the Application event log';
}

/** Polls until the service is in `want` (or stopped, when starting), up to `timeoutMs`. */
async function waitFor(sys: ServiceSystem, scm: ServiceControlManager, name: string, want: 'running' | 'stopped', timeoutMs: number): Promise<ServiceQuery | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const q = scm.query(name);
    if (!q || q.state === want || (want === 'running' && q.state === 'stopped')) return q;
    if (Date.now() >= deadline) return q;
    await sys.sleep(250);
  }
}

/**
 * `oma service install|uninstall|start|stop|status` (and `run`, which the SCM starts). Returns the exit
 * code. Off Windows it explains itself and exits 1.
 */
export async function runServiceCommand(
  argv: readonly string[],
  system: () => Promise<ServiceSystem>,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  runProgram?: (t: Target, configFile: string) => Promise<number>,
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    out.write(SERVICE_USAGE);
    return sub === undefined ? 2 : 0;
  }
  const sys = await system();
  if (sys.platform !== 'win32') {
    err.write(`oma service: Windows services exist on Windows only; this is ${sys.platform}. On Linux the package runs the agent as the systemd unit oma.service (systemctl status oma).\n`);
    return 1;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: {
        name: { type: 'string' },
        gateway: { type: 'boolean', default: false },
        config: { type: 'string', short: 'c' },
        account: { type: 'string' },
        password: { type: 'string' },
        manual: { type: 'boolean', default: false },
        timeout: { type: 'string', default: '60' },
      },
    }));
    if (values.password !== undefined && values.account === undefined) throw new ServiceUsageError('oma service: --password goes with --account');
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${SERVICE_USAGE}`);
    return 2;
  }
  const target: Target = { name: values.name ?? (values.gateway ? 'oma-gateway' : 'oma'), gateway: values.gateway };
  const configFile = resolve(values.config ?? join(sys.programData, 'OMA', values.gateway ? 'gateway.yaml' : 'oma.yaml'));
  const timeoutMs = Number(values.timeout) * 1000;
  if (!(timeoutMs > 0)) {
    err.write('oma service: --timeout takes a number of seconds\n');
    return 2;
  }
  const name = target.name;
  try {
    switch (sub) {
      case 'install': {
        const scm = sys.scm();
        let notApplied: string[];
        try {
          notApplied = scm.install(serviceSpec(target, configFile, sys, values.account, values.password, values.manual));
        } catch (e) {
          if (win32(e) === 1073) {
            err.write(`oma service: ${name} is installed already (oma service uninstall${values.name ? ` --name ${name}` : ''}${target.gateway ? ' --gateway' : ''} first)\n`);
            return 1;
          }
          throw e;
        }
        if (notApplied.length > 0) err.write(`oma service: warning: this service control manager does not take these settings: ${notApplied.join(', ')}\n`);
        sys.eventSources().register(EVENT_LOG, EVENT_SOURCE, EVENT_MESSAGE_FILE);
        out.write(
          `${name}: installed (${values.manual ? 'manual start' : notApplied.includes('delayed start') ? 'automatic start' : 'automatic, delayed start'}, ${values.account ?? 'LocalSystem'}, config ${configFile}); start it with: oma service start${values.name ? ` --name ${name}` : target.gateway ? ' --gateway' : ''}\n`,
        );
        return 0;
      }
      case 'uninstall': {
        const scm = sys.scm();
        const q = scm.query(name);
        if (!q) {
          out.write(`${name}: not installed\n`);
          return 0;
        }
        if (q.state !== 'stopped') {
          scm.stop(name);
          const after = await waitFor(sys, scm, name, 'stopped', timeoutMs);
          if (after && after.state !== 'stopped') err.write(`oma service: ${name} did not stop within ${timeoutMs / 1000} s; it is deleted once it stops\n`);
        }
        scm.uninstall(name);
        if (!target.gateway) sys.eventSources().unregister(EVENT_LOG, EVENT_SOURCE);
        out.write(`${name}: uninstalled\n`);
        return 0;
      }
      case 'start': {
        const scm = sys.scm();
        try {
          scm.start(name);
        } catch (e) {
          if (win32(e) !== 1056) throw e;
        }
        const q = await waitFor(sys, scm, name, 'running', timeoutMs);
        out.write(`${describeState(name, q)}\n`);
        return q?.state === 'running' ? 0 : 1;
      }
      case 'stop': {
        const scm = sys.scm();
        try {
          scm.stop(name);
        } catch (e) {
          if (win32(e) !== 1062) throw e;
        }
        const q = await waitFor(sys, scm, name, 'stopped', timeoutMs);
        out.write(`${describeState(name, q)}\n`);
        return q === undefined || q.state === 'stopped' ? 0 : 1;
      }
      case 'status': {
        const q = sys.scm().query(name);
        out.write(`${describeState(name, q)}\n`);
        return !q ? 4 : q.state === 'running' ? 0 : 3;
      }
      case 'run': {
        if (!runProgram) throw new ServiceUsageError('oma service run: not available here');
        return await runProgram(target, configFile);
      }
      default:
        err.write(`oma service: unknown subcommand "${sub}"\n\n${SERVICE_USAGE}`);
        return 2;
    }
  } catch (e) {
    const code = win32(e);
    const hint = code === 5 ? ' (run it from an elevated prompt: Run as administrator)' : code === 1060 ? ` (${name} is not installed)` : '';
    err.write(`oma service ${sub}: ${(e as Error).message}${hint}\n`);
    return 1;
  }
}

/** What `oma service run` needs besides the program: the SCM connection and the event log. */
export interface ServiceRunDeps {
  readonly dispatcher: ServiceDispatcher;
  /** The writer of OMA's events; undefined when the event source cannot be opened (the service runs without it). */
  readonly eventLog: EventLogWriter | undefined;
}
