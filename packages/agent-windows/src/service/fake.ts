/**
 * Pure-TS fakes of the service ports, for tests on any OS: a dispatcher the test drives like the SCM
 * (start the service, send controls, read the statuses reported), an in-memory Service Control Manager,
 * an event log writer that records what it was given, and an event source registry.
 */
import { Win32Error } from '@oma/core';
import { controlOf } from './service-port.js';
import type {
  EventLogWriter,
  EventSourceRegistry,
  ServiceCallbacks,
  ServiceControl,
  ServiceControlManager,
  ServiceDispatcher,
  ServiceQuery,
  ServiceSpec,
  ServiceStatusReport,
} from './service-port.js';

/** A dispatcher driven by the test: `startService()`, `send('stop')`, `statuses`. */
export class FakeServiceDispatcher implements ServiceDispatcher {
  readonly statuses: ServiceStatusReport[] = [];
  name: string | undefined;
  private callbacks: ServiceCallbacks | undefined;
  private connected: (() => void) | undefined;
  private finished: (() => void) | undefined;
  private readonly ready = new Promise<void>((resolve) => {
    this.connected = resolve;
  });

  /** `notFromScm`: dispatch fails as it does when a user runs `oma service run` from a console. */
  constructor(private readonly opts: { notFromScm?: boolean } = {}) {}

  dispatch(name: string, callbacks: ServiceCallbacks): Promise<void> {
    if (this.opts.notFromScm) return Promise.reject(new Win32Error('StartServiceCtrlDispatcherW', 1063));
    this.name = name;
    this.callbacks = callbacks;
    const done = new Promise<void>((resolve) => {
      this.finished = resolve;
    });
    this.connected?.();
    return done;
  }

  /** Resolves once the program called `dispatch`. */
  whenConnected(): Promise<void> {
    return this.ready;
  }

  /** The SCM starts the service (ServiceMain). */
  startService(): void {
    if (!this.callbacks) throw new Error('dispatch was not called');
    this.callbacks.start({
      setStatus: (s) => {
        this.statuses.push(s);
        // Like StartServiceCtrlDispatcherW: it returns once the (only) service reported SERVICE_STOPPED.
        if (s.state === 'stopped') setImmediate(() => this.finished?.());
      },
    });
  }

  /** The SCM sends a control (HandlerEx); returns what the handler answered. */
  send(control: ServiceControl | number): number {
    if (!this.callbacks) throw new Error('dispatch was not called');
    return this.callbacks.control(typeof control === 'number' ? controlOf(control) : control);
  }

  /** The states reported so far, in order. */
  states(): string[] {
    return this.statuses.map((s) => s.state);
  }

  /** The last status reported. */
  last(): ServiceStatusReport | undefined {
    return this.statuses[this.statuses.length - 1];
  }
}

interface FakeService {
  spec: ServiceSpec;
  state: ServiceQuery['state'];
  pid: number;
  deleted: boolean;
}

/** An in-memory SCM with the error codes of the real one. Services start and stop at once. */
export class FakeServiceControlManager implements ServiceControlManager {
  readonly services = new Map<string, FakeService>();
  readonly calls: string[] = [];
  private nextPid = 4000;

  /** Settings `install` reports as not taken (an SCM like Wine's). */
  notApplied: string[] = [];

  install(spec: ServiceSpec): string[] {
    this.calls.push(`install ${spec.name}`);
    const s = this.services.get(spec.name);
    if (s?.deleted) throw new Win32Error('CreateServiceW', 1072);
    if (s) throw new Win32Error('CreateServiceW', 1073);
    this.services.set(spec.name, { spec, state: 'stopped', pid: 0, deleted: false });
    return [...this.notApplied];
  }

  uninstall(name: string): void {
    this.calls.push(`uninstall ${name}`);
    const s = this.get('DeleteService', name);
    if (s.deleted) throw new Win32Error('DeleteService', 1072);
    s.deleted = true;
    if (s.state === 'stopped') this.services.delete(name);
  }

  start(name: string): void {
    this.calls.push(`start ${name}`);
    const s = this.get('StartServiceW', name);
    if (s.state !== 'stopped') throw new Win32Error('StartServiceW', 1056);
    s.state = 'running';
    s.pid = this.nextPid++;
  }

  stop(name: string): void {
    this.calls.push(`stop ${name}`);
    const s = this.get('ControlService', name);
    if (s.state === 'stopped') throw new Win32Error('ControlService', 1062);
    s.state = 'stopped';
    s.pid = 0;
    if (s.deleted) this.services.delete(name);
  }

  query(name: string): ServiceQuery | undefined {
    const s = this.services.get(name);
    return s ? { state: s.state, pid: s.pid, win32ExitCode: 0, serviceSpecificExitCode: 0 } : undefined;
  }

  private get(call: string, name: string): FakeService {
    const s = this.services.get(name);
    if (!s) throw new Win32Error(call, 1060);
    return s;
  }
}

/** Records events; `failWith` makes `report` throw that Win32 error (a full or missing log). */
export class FakeEventLogWriter implements EventLogWriter {
  readonly events: { type: 'error' | 'warning' | 'information'; eventId: number; message: string }[] = [];
  failWith: number | undefined;
  closed = false;

  report(type: 'error' | 'warning' | 'information', eventId: number, message: string): void {
    if (this.failWith !== undefined) throw new Win32Error('ReportEventW', this.failWith);
    this.events.push({ type, eventId, message });
  }

  close(): void {
    this.closed = true;
  }
}

/** Event sources as a map of `log\source` → message file. */
export class FakeEventSourceRegistry implements EventSourceRegistry {
  readonly sources = new Map<string, string>();

  register(log: string, source: string, messageFile: string): void {
    this.sources.set(`${log}\\${source}`, messageFile);
  }

  unregister(log: string, source: string): void {
    this.sources.delete(`${log}\\${source}`);
  }
}
