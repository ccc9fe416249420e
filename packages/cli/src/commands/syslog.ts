import { spawn } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { access, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DAEMON_DEFAULTS, DEFAULT_SOCKET, DEFAULT_TCP_PORT, type ForwardOptions, isOmaSnippet, parseFacilities, parseLevel,
  snippet, SYSLOG_DAEMONS, type SyslogDaemon, SyslogOptionError, validationMainConfig,
} from './syslog-snippet.js';

export const SYSLOG_USAGE = `Usage:
  oma syslog configure rsyslog|syslog-ng [options]
      writes the daemon's snippet that forwards syslog to the agent, validates it with the daemon
      (rsyslogd -N1, syslog-ng --syntax-only) before putting it in place, and restarts or reloads the daemon
      --facilities LIST     facilities to forward, comma separated, or * (default *)
      --level LEVEL         least severe level forwarded (default info; warning = warning and above)
      --transport tcp|unix  to the agent's TCP listener on 127.0.0.1 (default) or its unix socket
      --port N              the agent's TCP port (default ${DEFAULT_TCP_PORT})
      --socket PATH         the agent's unix socket (default ${DEFAULT_SOCKET})
      --dry-run             print the snippet and validate it; write nothing, reload nothing
      --no-reload           write the snippet but leave the daemon alone
      --file PATH           the snippet's path (default ${DAEMON_DEFAULTS.rsyslog.file}, ${DAEMON_DEFAULTS['syslog-ng'].file})
      --main-config PATH    the daemon's main config (default ${DAEMON_DEFAULTS.rsyslog.mainConfig}, ${DAEMON_DEFAULTS['syslog-ng'].mainConfig})
      --queue-dir DIR       the disk queue's directory (default ${DAEMON_DEFAULTS.rsyslog.queueDir}, ${DAEMON_DEFAULTS['syslog-ng'].queueDir})
      --source NAME         syslog-ng: the source to forward (default s_src)
  oma syslog unconfigure [rsyslog|syslog-ng] [--file PATH] [--dry-run] [--no-reload]
      removes the snippet configure wrote (only a file that starts with its marker) and restarts or
      reloads the daemon
`;

/** The result of one external command. */
export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** What the command needs from the machine: injectable so that tests can watch the reload decision. */
export interface SyslogHost {
  /** Runs `file args` without a shell; a missing program resolves with code null and the spawn error in stderr. */
  run(file: string, args: readonly string[]): Promise<CommandResult>;
  /** The path of an executable named `name` on PATH (and /usr/sbin, /sbin), or `name` itself when it is an executable's absolute path; else undefined. */
  which(name: string): Promise<string | undefined>;
  /** True when systemd is the running init (`/run/systemd/system` exists). */
  systemdRunning(): boolean;
  /** True when a process with this pid exists. */
  processAlive(pid: number): boolean;
  /** Sends `signal` to `pid`. */
  kill(pid: number, signal: NodeJS.Signals): void;
}

function runCommand(file: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (e) => resolve({ code: null, stdout, stderr: `${stderr}${e.message}\n` }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export const systemHost: SyslogHost = {
  run: runCommand,
  async which(name) {
    if (name.startsWith('/')) {
      try {
        await access(name, constants.X_OK);
        return name;
      } catch {
        return undefined;
      }
    }
    const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), '/usr/sbin', '/sbin'];
    for (const d of dirs) {
      const file = join(d, name);
      try {
        await access(file, constants.X_OK);
        return file;
      } catch {
        // not in this directory
      }
    }
    return undefined;
  },
  systemdRunning: () => existsSync('/run/systemd/system'),
  processAlive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
  kill: (pid, signal) => process.kill(pid, signal),
};

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

class SyslogFailure extends Error {}

/**
 * Validates `text` as the snippet at `file`: the daemon reads a temporary copy of its main config in which
 * the new text stands where the installed snippet would be. Throws SyslogFailure with the daemon's output.
 */
async function validate(daemon: SyslogDaemon, text: string, file: string, mainConfig: string, host: SyslogHost): Promise<string> {
  const mainText = await readIfExists(mainConfig);
  if (mainText === undefined) throw new SyslogFailure(`${mainConfig} does not exist: is ${daemon} installed? (--main-config names another)`);
  const binary = await host.which(daemon === 'rsyslog' ? 'rsyslogd' : 'syslog-ng');
  if (binary === undefined) throw new SyslogFailure(`${daemon === 'rsyslog' ? 'rsyslogd' : 'syslog-ng'} was not found on PATH: is ${daemon} installed?`);
  let entries: string[] = [];
  try {
    entries = await readdir(dirname(file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const dir = await mkdtemp(join(tmpdir(), 'oma-syslog-check-'));
  try {
    const tempSnippet = join(dir, basename(file));
    const main = validationMainConfig(daemon, mainText, file, entries, tempSnippet);
    if (main === undefined) throw new SyslogFailure(`${mainConfig} does not include ${file}: ${daemon} would never read it`);
    const tempMain = join(dir, basename(mainConfig));
    await writeFile(tempSnippet, text);
    await writeFile(tempMain, main);
    const args = daemon === 'rsyslog' ? ['-N1', '-f', tempMain] : ['--syntax-only', '--cfgfile', tempMain];
    const r = await host.run(binary, args);
    const output = `${r.stdout}${r.stderr}`.trim();
    if (r.code !== 0) throw new SyslogFailure(`${daemon} rejected the snippet (${basename(binary)} ${args.join(' ')}):\n${output.split(tempSnippet).join(file)}`);
    return `${basename(binary)} ${args[0]}`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Makes the daemon read its configuration again and says how. rsyslog is restarted (its HUP reopens
 * files but does not read the config again): `systemctl restart rsyslog` under systemd, else its init
 * script. syslog-ng reloads: `systemctl reload syslog-ng` under systemd, else `syslog-ng-ctl reload`,
 * else HUP to the pid in its pid file.
 */
async function reload(daemon: SyslogDaemon, host: SyslogHost, out: NodeJS.WritableStream): Promise<boolean> {
  const attempts: Array<[string, string[]]> = [];
  if (host.systemdRunning()) attempts.push(['systemctl', daemon === 'rsyslog' ? ['restart', 'rsyslog'] : ['reload', 'syslog-ng']]);
  else if (daemon === 'rsyslog') attempts.push(['/etc/init.d/rsyslog', ['restart']]);
  else attempts.push(['syslog-ng-ctl', ['reload']]);
  for (const [cmd, args] of attempts) {
    const file = await host.which(cmd);
    if (file === undefined) continue;
    const r = await host.run(file, args);
    if (r.code === 0) {
      out.write(`${daemon}: ran \`${cmd} ${args.join(' ')}\`\n`);
      return true;
    }
    out.write(`${daemon}: \`${cmd} ${args.join(' ')}\` failed (exit ${r.code ?? 'none'}): ${`${r.stdout}${r.stderr}`.trim()}\n`);
  }
  if (daemon === 'syslog-ng') {
    const pid = Number((await readIfExists('/run/syslog-ng.pid'))?.trim());
    if (Number.isInteger(pid) && pid > 0 && host.processAlive(pid)) {
      host.kill(pid, 'SIGHUP');
      out.write(`syslog-ng: sent SIGHUP to pid ${pid}\n`);
      return true;
    }
  }
  out.write(`${daemon}: could not make it read the new configuration; restart it yourself\n`);
  return false;
}

export interface ConfigureArgs extends ForwardOptions {
  readonly file: string;
  readonly mainConfig: string;
  readonly dryRun: boolean;
  readonly reload: boolean;
}

/** `oma syslog configure`: 0 written (or unchanged, or a clean dry run), 1 when anything failed. */
export async function configureSyslog(a: ConfigureArgs, host: SyslogHost, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const text = snippet(a);
  try {
    const current = await readIfExists(a.file);
    if (current !== undefined && !isOmaSnippet(current)) throw new SyslogFailure(`${a.file} exists and was not written by oma; move it away first`);
    const checked = await validate(a.daemon, text, a.file, a.mainConfig, host);
    if (a.dryRun) {
      out.write(`# ${a.file} (dry run: ${checked} accepted it; nothing written)\n${text}`);
      return 0;
    }
    if (current === text) {
      out.write(`${a.file}: unchanged (${checked} accepted it)\n`);
      return 0;
    }
    const temp = `${a.file}.oma-new`;
    await writeFile(temp, text, { mode: 0o644 });
    await rename(temp, a.file);
    out.write(`${a.file}: ${current === undefined ? 'written' : 'updated'} (${checked} accepted it)\n`);
    if (!a.reload) {
      out.write(`${a.daemon}: not reloaded (--no-reload); it reads the snippet at its next restart\n`);
      return 0;
    }
    return (await reload(a.daemon, host, out)) ? 0 : 1;
  } catch (e) {
    if (!(e instanceof SyslogFailure)) throw e;
    err.write(`oma syslog configure: ${e.message}\n`);
    return 1;
  }
}

export interface UnconfigureArgs {
  /** The daemons whose snippet is removed (both when none was named). */
  readonly daemons: readonly SyslogDaemon[];
  /** The snippet's path (only with one daemon). */
  readonly file?: string;
  readonly dryRun: boolean;
  readonly reload: boolean;
}

/** `oma syslog unconfigure`: removes each daemon's snippet that OMA wrote; 0 when nothing failed. */
export async function unconfigureSyslog(a: UnconfigureArgs, host: SyslogHost, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let code = 0;
  for (const daemon of a.daemons) {
    const file = a.file ?? DAEMON_DEFAULTS[daemon].file;
    const current = await readIfExists(file);
    if (current === undefined) {
      out.write(`${file}: not there; nothing to remove\n`);
      continue;
    }
    if (!isOmaSnippet(current)) {
      err.write(`oma syslog unconfigure: ${file} was not written by oma; left in place\n`);
      code = 1;
      continue;
    }
    if (a.dryRun) {
      out.write(`${file}: would be removed (dry run)\n`);
      continue;
    }
    await rm(file);
    out.write(`${file}: removed\n`);
    if (!a.reload) out.write(`${daemon}: not reloaded (--no-reload); it stops forwarding at its next restart\n`);
    else if (!(await reload(daemon, host, out))) code = 1;
  }
  return code;
}

function isDaemon(word: string | undefined): word is SyslogDaemon {
  return (SYSLOG_DAEMONS as readonly (string | undefined)[]).includes(word);
}

/** `oma syslog configure|unconfigure ...`; returns the exit code (2 for usage errors). */
export async function runSyslog(argv: readonly string[], host: SyslogHost, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = argv;
  const usage = (message: string): number => {
    err.write(`oma syslog: ${message}\n\n${SYSLOG_USAGE}`);
    return 2;
  };
  try {
    if (sub === 'configure') {
      const { values, positionals } = parseArgs({
        args: [...rest],
        allowPositionals: true,
        options: {
          facilities: { type: 'string', default: '*' },
          level: { type: 'string', default: 'info' },
          transport: { type: 'string', default: 'tcp' },
          port: { type: 'string', default: String(DEFAULT_TCP_PORT) },
          socket: { type: 'string', default: DEFAULT_SOCKET },
          'dry-run': { type: 'boolean', default: false },
          'no-reload': { type: 'boolean', default: false },
          file: { type: 'string' },
          'main-config': { type: 'string' },
          'queue-dir': { type: 'string' },
          source: { type: 'string', default: 's_src' },
        },
      });
      const daemon = positionals[0];
      if (!isDaemon(daemon) || positionals.length > 1) return usage('configure takes rsyslog or syslog-ng');
      const port = Number(values.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) return usage('--port takes a port number (1-65535)');
      if (values.transport !== 'tcp' && values.transport !== 'unix') return usage('--transport is tcp or unix');
      if (!values.socket.startsWith('/')) return usage('--socket takes an absolute path');
      if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(values.source)) return usage('--source takes a syslog-ng source name');
      const defaults = DAEMON_DEFAULTS[daemon];
      return await configureSyslog(
        {
          daemon,
          facilities: parseFacilities(values.facilities),
          level: parseLevel(values.level),
          transport: values.transport,
          port,
          socket: values.socket,
          queueDir: values['queue-dir'] ?? defaults.queueDir,
          source: values.source,
          file: values.file ?? defaults.file,
          mainConfig: values['main-config'] ?? defaults.mainConfig,
          dryRun: values['dry-run'],
          reload: !values['no-reload'],
        },
        host,
        out,
        err,
      );
    }
    if (sub === 'unconfigure') {
      const { values, positionals } = parseArgs({
        args: [...rest],
        allowPositionals: true,
        options: { file: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, 'no-reload': { type: 'boolean', default: false } },
      });
      if (positionals.length > 1 || (positionals.length === 1 && !isDaemon(positionals[0]))) return usage('unconfigure takes rsyslog, syslog-ng or nothing (both)');
      const daemons = positionals.length === 1 ? (positionals as SyslogDaemon[]) : SYSLOG_DAEMONS;
      if (values.file !== undefined && daemons.length !== 1) return usage('--file needs the daemon named: unconfigure rsyslog|syslog-ng --file PATH');
      return await unconfigureSyslog(
        { daemons, ...(values.file === undefined ? {} : { file: values.file }), dryRun: values['dry-run'], reload: !values['no-reload'] },
        host,
        out,
        err,
      );
    }
    return usage(sub === undefined ? 'a subcommand is required (configure or unconfigure)' : `unknown subcommand "${sub}"`);
  } catch (e) {
    if (e instanceof SyslogOptionError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return usage((e as Error).message);
    throw e;
  }
}
