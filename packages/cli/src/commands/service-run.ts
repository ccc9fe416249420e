import { Writable } from 'node:stream';
import type { StreamEntry } from 'pino';
import { EventLogStream, OMA_EVENT_IDS, runServiceHost, type EventLogWriter, type ServiceDispatcher } from '@oma/windows';
import type { Platform } from '../platform.js';
import { serveGateway } from './gateway.js';
import { runAgent } from './run.js';
import { exitMeaning } from './service.js';

export interface ServiceRunOptions {
  /** The service's name (`oma`, `oma-gateway`). */
  readonly name: string;
  /** Run the gateway instead of the agent. */
  readonly gateway: boolean;
  readonly configFile: string;
  readonly dispatcher: ServiceDispatcher;
  /** OMA's event source; undefined when it cannot be opened (the service then runs without it). */
  readonly eventLog: EventLogWriter | undefined;
  readonly loadPlatform: () => Promise<Platform>;
  /** Where a console message goes when the process was not started by the SCM. */
  readonly err: NodeJS.WritableStream;
}

/**
 * `oma service run`: the agent (or the gateway) as a Windows service. The SCM's stop and shutdown
 * controls stop it as SIGTERM does; its logs go to <dataDir>\logs\oma.log (the service has no console)
 * and its warnings and errors to the Application event log as the source OMA. A start that fails is
 * reported to the SCM as a service-specific exit code (1, or 2 for a config that is not valid).
 */
export async function runAsService(opts: ServiceRunOptions): Promise<number> {
  const events = opts.eventLog;
  const report = (type: 'error' | 'information', id: number, message: string): void => {
    try {
      events?.report(type, id, message);
    } catch {
      // the event log is a second copy of what the log file has
    }
  };
  const streams: StreamEntry[] = events ? [{ level: 'warn', stream: new EventLogStream({ writer: events }) }] : [];
  // A service has no console: the banner and status lines are dropped (the log file has what matters).
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  let ran = false;
  try {
    const code = await runServiceHost({
      name: opts.name,
      dispatcher: opts.dispatcher,
      program: async (io) => {
        ran = true;
        const onStarted = (): void => {
          io.started();
          report('information', OMA_EVENT_IDS.serviceStarted, `${opts.name} started (config ${opts.configFile})`);
        };
        const code = opts.gateway
          ? await serveGateway(opts.configFile, discard, { stop: io.stopRequested, onStarted, logging: { console: false, streams } })
          : await runAgent({
              configFile: opts.configFile,
              platform: await opts.loadPlatform(),
              out: discard,
              stop: io.stopRequested,
              onStarted,
              logging: { console: false, file: true, streams },
            });
        if (code !== 0) report('error', OMA_EVENT_IDS.fatal, `${opts.name} stopped with exit code ${code}: ${exitMeaning(code)}\r\nconfig: ${opts.configFile}`);
        return code;
      },
    });
    report('information', OMA_EVENT_IDS.serviceStopped, `${opts.name} stopped${code === 0 ? '' : ` (exit code ${code})`}`);
    return code;
  } catch (err) {
    if ((err as { win32?: number }).win32 === 1063 && !ran) {
      opts.err.write('oma service run: this is what the Windows service runs; start it with `oma service start`, or run the agent in this console with `oma run`\n');
      return 1;
    }
    throw err;
  } finally {
    try {
      events?.close();
    } catch {
      // closed already
    }
  }
}
