import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { agentYaml, runOma, startOma, type OmaProcess } from '../helpers.js';

/**
 * A private rsyslogd for tests, a sender that goes through it with `logger`, and a TCP listener that reads
 * what rsyslog forwards in octet-counted frames (RFC 6587). Never touches the system's rsyslog: its own
 * config, pid file, work directory and input socket, all in the test's directory.
 */

/** The path of an executable on PATH, /usr/sbin or /sbin; undefined when there is none. */
export function findExecutable(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), '/usr/sbin', '/sbin']) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const RSYSLOGD = findExecutable('rsyslogd');
export const LOGGER = findExecutable('logger');
/** Why the rsyslog scenarios cannot run here, or undefined when they can. */
export const RSYSLOG_MISSING = RSYSLOGD === undefined ? 'rsyslogd is not installed (Debian package rsyslog)' : LOGGER === undefined ? 'logger is not installed (Debian package bsdutils)' : undefined;

/** Waits until `check` returns true, polling every 20 ms; fails after `timeoutMs` with `what`. */
export async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The files of a private syslog daemon in a test directory. */
export interface DaemonLayout {
  /** Its main config. */
  readonly mainConfig: string;
  /** The directory the main config includes (`*.conf`): where `oma syslog configure` writes its snippet. */
  readonly includeDir: string;
  /** The snippet's path inside includeDir. */
  readonly snippet: string;
  /** Its work directory and the disk queue's spool directory. */
  readonly workDir: string;
  readonly spoolDir: string;
  /** The unix datagram socket its imuxsock input reads (send with `logger -u`). */
  readonly socket: string;
  readonly pidFile: string;
}

/** Writes the main config of a private rsyslogd in `dir`: one imuxsock input on a socket in `dir`, the system socket off, no rate limit. */
export function rsyslogLayout(dir: string): DaemonLayout {
  const layout: DaemonLayout = {
    mainConfig: join(dir, 'rsyslog.conf'),
    includeDir: join(dir, 'rsyslog.d'),
    snippet: join(dir, 'rsyslog.d', '95-oma.conf'),
    workDir: join(dir, 'work'),
    spoolDir: join(dir, 'spool'),
    socket: join(dir, 'log.sock'),
    pidFile: join(dir, 'rsyslogd.pid'),
  };
  for (const d of [layout.includeDir, layout.workDir, layout.spoolDir]) mkdirSync(d, { recursive: true });
  writeFileSync(layout.mainConfig, [
    `global(workDirectory="${layout.workDir}")`,
    'module(load="imuxsock" SysSock.Use="off")',
    `input(type="imuxsock" Socket="${layout.socket}" RateLimit.Interval="0")`,
    `$IncludeConfig ${layout.includeDir}/*.conf`,
    '',
  ].join('\n'));
  return layout;
}

/** A private rsyslogd in the foreground (`-n`) reading the layout's main config. */
export class PrivateRsyslog {
  stderr = '';
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  /** `env` is added to rsyslogd's environment (e.g. TZ, the zone of its timestamps). */
  constructor(
    readonly layout: DaemonLayout,
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  /** Starts rsyslogd and resolves when its input socket exists. */
  async start(): Promise<void> {
    if (RSYSLOGD === undefined) throw new Error('rsyslogd is not installed');
    const child = spawn(RSYSLOGD, ['-n', '-f', this.layout.mainConfig, '-i', this.layout.pidFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...this.env },
    });
    this.child = child;
    this.stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((r) => child.once('exit', () => r()));
    await until(() => {
      if (child.exitCode !== null) throw new Error(`rsyslogd exited (${child.exitCode}) at start:\n${this.stderr}`);
      return existsSync(this.layout.socket);
    }, 'rsyslogd to open its input socket');
  }

  /** Stops rsyslogd (SIGTERM: it saves its queues when told to) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await this.exited;
    this.child = undefined;
  }
}

/**
 * Sends each line of `lines` as one message through rsyslog's input socket with `logger` (one process for
 * all: it reads the messages from stdin). Resolves when logger has sent them all.
 */
export function sendWithLogger(socket: string, lines: readonly string[], opts: { priority?: string; tag?: string } = {}): Promise<void> {
  if (LOGGER === undefined) return Promise.reject(new Error('logger is not installed'));
  const args = ['-u', socket, '-p', opts.priority ?? 'user.info', '-t', opts.tag ?? 'omatest'];
  return new Promise((resolve, reject) => {
    const child = spawn(LOGGER, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`logger exited ${code}: ${stderr}`))));
    child.stdin.end(`${lines.join('\n')}\n`);
  });
}

/** True when the `logger` here can send to a unix socket given by path (util-linux's can). */
export function loggerSupportsSocket(): boolean {
  return LOGGER !== undefined && spawnSync(LOGGER, ['--help'], { encoding: 'utf8' }).stdout.includes('--socket');
}

/**
 * A TCP listener on 127.0.0.1 reading octet-counted frames (`LEN SP MSG`): what rsyslog's omfwd sends with
 * TCP_Framing="octet-counted" and syslog-ng's syslog() destination. A frame that does not start with a
 * length is recorded in `framingErrors` and its connection closed.
 */
export class OctetCountedListener {
  readonly messages: string[] = [];
  readonly framingErrors: string[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  /** Listens on `port` (0: a free one; the same port again after close() to come back). */
  async listen(port = this.port): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        const space = pending.indexOf(0x20);
        if (space < 0) {
          if (pending.length > 10) this.framingError(socket, pending);
          return;
        }
        const head = pending.subarray(0, space).toString('latin1');
        if (!/^[1-9][0-9]{0,9}$/.test(head)) return this.framingError(socket, pending);
        const len = Number(head);
        if (pending.length < space + 1 + len) return;
        this.messages.push(pending.subarray(space + 1, space + 1 + len).toString('utf8'));
        pending = pending.subarray(space + 1 + len);
      }
    });
  }

  private framingError(socket: Socket, data: Buffer): void {
    this.framingErrors.push(data.subarray(0, 80).toString('latin1'));
    socket.destroy();
  }

  /** Resolves when `count` messages have arrived. */
  waitForCount(count: number, timeoutMs = 60_000): Promise<void> {
    return until(() => this.messages.length >= count, `${count} messages (have ${this.messages.length})`, timeoutMs);
  }

  /** Stops listening and drops every connection (the agent going away). */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((r) => server.close(() => r()));
  }
}

/**
 * syslog-ng for tests. Debian's syslog-ng conflicts with rsyslog, so where rsyslog is installed the tests use
 * a syslog-ng extracted without installing it: `apt-get download syslog-ng-core libivykis0 libnet1 libpcre3
 * libwrap0` and `dpkg-deb -x` of each into one folder named by OMA_SYSLOG_NG_ROOT. A `syslog-ng` on PATH
 * is used as it is.
 */
export interface SyslogNg {
  /** A folder holding an executable `syslog-ng` (a wrapper setting the library and module paths where needed): put it first on PATH. */
  readonly binDir: string;
  readonly binary: string;
}

/** The syslog-ng to test with (its wrapper written into `dir`), or the reason there is none. */
export function findSyslogNg(dir: string): SyslogNg | string {
  const installed = findExecutable('syslog-ng');
  if (installed !== undefined) return { binDir: join(installed, '..'), binary: installed };
  const root = process.env.OMA_SYSLOG_NG_ROOT;
  if (root === undefined || root === '') {
    return 'syslog-ng is not installed (Debian\'s conflicts with rsyslog): set OMA_SYSLOG_NG_ROOT to a folder where syslog-ng-core, libivykis0, libnet1, libpcre3 and libwrap0 were extracted with dpkg-deb -x';
  }
  const real = join(root, 'usr', 'sbin', 'syslog-ng');
  if (!existsSync(real)) return `OMA_SYSLOG_NG_ROOT has no usr/sbin/syslog-ng: ${root}`;
  const modules = readdirSync(join(root, 'usr', 'lib', 'syslog-ng')).find((d) => /^\d+\.\d+$/.test(d));
  if (modules === undefined) return `OMA_SYSLOG_NG_ROOT has no module folder under usr/lib/syslog-ng: ${root}`;
  const libs = [join(root, 'usr', 'lib', 'x86_64-linux-gnu'), join(root, 'lib', 'x86_64-linux-gnu'), join(root, 'usr', 'lib', 'syslog-ng')].join(':');
  const binDir = join(dir, 'syslog-ng-bin');
  mkdirSync(binDir, { recursive: true });
  const binary = join(binDir, 'syslog-ng');
  writeFileSync(binary, `#!/bin/sh\nLD_LIBRARY_PATH='${libs}' exec '${real}' --module-path='${join(root, 'usr', 'lib', 'syslog-ng', modules)}' "$@"\n`, { mode: 0o755 });
  return { binDir, binary };
}

/** The files of a private syslog-ng in `dir`: its main config defines `s_src` as a unix-dgram socket in `dir` and includes `conf.d/*.conf`. */
export function syslogNgLayout(dir: string): DaemonLayout {
  const layout: DaemonLayout = {
    mainConfig: join(dir, 'syslog-ng.conf'),
    includeDir: join(dir, 'conf.d'),
    snippet: join(dir, 'conf.d', 'oma.conf'),
    workDir: dir,
    spoolDir: join(dir, 'spool'),
    socket: join(dir, 'log.sock'),
    pidFile: join(dir, 'syslog-ng.pid'),
  };
  for (const d of [layout.includeDir, layout.spoolDir]) mkdirSync(d, { recursive: true });
  writeFileSync(layout.mainConfig, [
    '@version: 3.38',
    'options { stats_freq(0); };',
    `source s_src { unix-dgram("${layout.socket}"); };`,
    `@include "${layout.includeDir}/*.conf"`,
    '',
  ].join('\n'));
  return layout;
}

/** A private syslog-ng in the foreground, with its own persist file, control socket and pid file. */
export class PrivateSyslogNg {
  stderr = '';
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly layout: DaemonLayout, readonly syslogNg: SyslogNg) {}

  async start(): Promise<void> {
    const d = this.layout.workDir;
    const args = ['-F', '--no-caps', '-f', this.layout.mainConfig, '-R', join(d, 'syslog-ng.persist'), '-c', join(d, 'syslog-ng.ctl'), '-p', this.layout.pidFile];
    const child = spawn(this.syslogNg.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((r) => child.once('exit', () => r()));
    await until(() => {
      if (child.exitCode !== null) throw new Error(`syslog-ng exited (${child.exitCode}) at start:\n${this.stderr}`);
      return existsSync(this.layout.socket);
    }, 'syslog-ng to open its input socket');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await this.exited;
    this.child = undefined;
  }
}

/** A row of the Syslog table as `oma query --json` prints it. */
export type SyslogRow = Record<string, unknown>;

/**
 * The real agent for these tests: the built `oma` binary running a syslog source (TCP on 127.0.0.1, or a
 * unix datagram socket) into its embedded local workspace, all in `dir`. `stop()` and `start()` again
 * keep the data directory and the TCP port (an outage of the agent).
 */
export class SyslogAgent {
  private proc: OmaProcess | undefined;
  private readonly config: string;
  private readonly logFile: string;
  /** The TCP port (0 until the first start picked one), or undefined on the unix socket. */
  port: number | undefined;

  constructor(
    private readonly dir: string,
    private readonly transport: { readonly tcp: number } | { readonly unix: string },
  ) {
    mkdirSync(dir, { recursive: true });
    this.config = join(dir, 'oma.yaml');
    this.logFile = join(dir, 'data', 'logs', 'oma.log');
    this.port = 'tcp' in transport ? transport.tcp : undefined;
  }

  /** Starts the agent and resolves once its syslog source listens (with the TCP port it bound). */
  async start(): Promise<number | undefined> {
    const listen = this.port !== undefined ? `    tcp: { port: ${this.port} }` : `    unix: { path: ${JSON.stringify((this.transport as { unix: string }).unix)} }`;
    writeFileSync(
      this.config,
      agentYaml({
        dataDir: join(this.dir, 'data'),
        sources: ['  syslog:', '    type: syslog', listen],
        destinations: ['  local: { type: local_workspace }'],
      }),
    );
    const seen = this.listening().length;
    this.proc = startOma(['run', '--config', this.config]);
    await this.proc.waitForOutput(/local workspace: http/);
    const proc = this.proc;
    await until(() => this.listening().length > seen || proc.child.exitCode !== null, 'the agent\'s syslog source to listen');
    if (proc.child.exitCode !== null) throw new Error(`oma exited (${proc.child.exitCode})\n${proc.stderr}`);
    const line = this.listening().at(-1)!;
    const port = /"endpoint":"127\.0\.0\.1:(\d+)"/.exec(line);
    if (port) this.port = Number(port[1]);
    return this.port;
  }

  /** The agent log's "syslog listening" lines so far. */
  private listening(): string[] {
    const text = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
    return text.split('\n').filter((l) => l.includes('"msg":"syslog listening"'));
  }

  /** Stops the agent (SIGTERM: it hands what it received to its queue first) and waits for it to exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p !== undefined) await p.kill('SIGTERM');
  }

  /** Rows in the local workspace's Syslog table (0 before the first batch made the table). */
  async count(): Promise<number> {
    const r = await runOma(['query', '--json', '--config', this.config]);
    if (r.code !== 0) throw new Error(`oma query failed (${r.code}): ${r.stderr}`);
    const t = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { name: string; rowCount: number })
      .find((x) => x.name === 'Syslog');
    return t?.rowCount ?? 0;
  }

  /** Every row of the Syslog table, oldest first. */
  async rows(limit = 100_000): Promise<SyslogRow[]> {
    const r = await runOma(['query', 'Syslog', '--json', '--limit', String(limit), '--config', this.config]);
    if (r.code !== 0) throw new Error(`oma query failed (${r.code}): ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as SyslogRow)
      .reverse();
  }

  /** Resolves with the rows once the Syslog table holds at least `n`. */
  async waitForRows(n: number, timeoutMs = 60_000): Promise<SyslogRow[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const have = await this.count();
      if (have >= n) return this.rows();
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${n} Syslog rows (have ${have})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
