/**
 * The `oma` Windows service under Wine's service control manager (services.exe): `oma service
 * install`, `start`, `status`, `stop` and `uninstall` through the real koffi advapi32 adapters, the
 * service host's dispatcher (StartServiceCtrlDispatcherW on a koffi worker thread, ServiceMain and
 * HandlerEx as koffi callbacks from the SCM's threads), delivering Heartbeat rows into a local
 * workspace on Linux, and the graceful stop of SERVICE_CONTROL_STOP.
 *
 * A service gets its environment from the registry, not from the shell that started it: NODE_PATH
 * (koffi's Windows binary) and NODE_OPTIONS (Wine 8's keep-alive workaround, see
 * scenarios/wine-keepalive.ts) are set in `Session Manager\Environment` for this prefix, and removed
 * at the end.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, LocalWorkspace } from '@oma/local-workspace';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WINE_SKIP_REASON, WINE_TESTS_ENABLED } from './enabled.js';
import { startUnderWine, windowsFileUrl, windowsPath, wineEnv, winePaths } from './wine.js';

const execFileAsync = promisify(execFile);
const paths = winePaths();
const NAME = 'oma-wine-test';
const ENV_KEY = 'HKLM\\System\\CurrentControlSet\\Control\\Session Manager\\Environment';
const CLI = join(paths.repo, 'packages', 'cli', 'bin', 'oma.js');

async function wine(cmd: string, args: string[]): Promise<void> {
  await execFileAsync(cmd, args, { env: wineEnv(paths), timeout: 120_000, killSignal: 'SIGKILL' });
}

/** Starts a persistent wineserver for the prefix. Its daemon keeps any pipe open: no pipes, wait for the launcher only. */
function persistentWineserver(): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('wineserver', ['-p'], { env: wineEnv(paths), stdio: 'ignore' });
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`wineserver -p exited ${code}`))));
  });
}

let calls = 0;
/** Runs `oma <args>` under Wine to its end: its exit code and what it printed. */
async function oma(dir: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const cwd = join(dir, `call-${++calls}`);
  mkdirSync(cwd);
  const p = startUnderWine(CLI, args, { cwd });
  await vi.waitFor(() => expect(p.exited()).toBeDefined(), { timeout: 150_000, interval: 200 });
  return { code: p.exited()!.code, output: await p.output() };
}

describe.skipIf(!WINE_TESTS_ENABLED)(`the oma Windows service under Wine's service control manager${WINE_TESTS_ENABLED ? '' : ` (skipped: ${WINE_SKIP_REASON})`}`, () => {
  let dir: string;
  let ws: LocalWorkspace;
  let logFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oma-wine-service-'));
    ws = await LocalWorkspace.start({ dataDir: join(dir, 'workspace') });
    logFile = join(dir, 'data', 'logs', 'oma.log');
    writeFileSync(
      join(dir, 'oma.yaml'),
      [
        `dataDir: '${windowsPath(join(dir, 'data'))}'`,
        'statusIntervalMs: 0',
        'sources:',
        '  heartbeat: { type: heartbeat, intervalMs: 1s }',
        'destinations:',
        '  ws:',
        '    type: azure_logs_ingestion',
        `    endpoint: ${ws.url}`,
        `    dcrImmutableId: ${ws.dcrImmutableId}`,
        '    flushIntervalMs: 200',
        '    auth:',
        '      type: client_secret',
        `      tenantId: ${ws.tenantId}`,
        `      clientId: ${DEFAULT_CLIENT_ID}`,
        `      clientSecret: ${DEFAULT_CLIENT_SECRET}`,
        `      authorityHost: ${ws.url}`,
        '',
      ].join('\n'),
    );
    const keepalive = `--import=${windowsFileUrl(join(paths.scenarios, 'wine-keepalive.js'))}`;
    await wine('wine', ['reg', 'add', ENV_KEY, '/v', 'NODE_PATH', '/t', 'REG_SZ', '/d', windowsPath(paths.nodePath), '/f']);
    await wine('wine', ['reg', 'add', ENV_KEY, '/v', 'NODE_OPTIONS', '/t', 'REG_SZ', '/d', keepalive, '/f']);
    // services.exe reads the environment when it starts: start a fresh wineserver that stays up between commands.
    await wine('wineserver', ['-k']).catch(() => undefined);
    await persistentWineserver();
  });

  afterAll(async () => {
    if (dir !== undefined) await oma(dir, ['service', 'uninstall', '--name', NAME]).catch(() => undefined);
    await wine('wine', ['reg', 'delete', ENV_KEY, '/v', 'NODE_OPTIONS', '/f']).catch(() => undefined);
    await wine('wine', ['reg', 'delete', ENV_KEY, '/v', 'NODE_PATH', '/f']).catch(() => undefined);
    await wine('wineserver', ['-k']).catch(() => undefined);
    await ws?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('installs, starts, delivers, stops gracefully and uninstalls', async () => {
    const config = windowsPath(join(dir, 'oma.yaml'));
    // Manual start: an automatic service would be started by every new wineserver.
    const install = await oma(dir, ['service', 'install', '--name', NAME, '--manual', '--config', config]);
    expect(install.output).toContain(`${NAME}: installed`);
    expect(install.code).toBe(0);

    const start = await oma(dir, ['service', 'start', '--name', NAME, '--timeout', '120']);
    expect(start.output, start.output).toMatch(new RegExp(`${NAME}: running \\(pid \\d+\\)`));
    expect(start.code).toBe(0);
    expect((await oma(dir, ['service', 'status', '--name', NAME])).code).toBe(0);

    // The service's own process, started by services.exe, sends Heartbeat rows to the workspace on Linux.
    await vi.waitFor(
      () => {
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '(no log file yet)';
        expect(ws.store.query({ table: 'Heartbeat_CL', limit: 10, order: 'asc' }).rows.length, log.slice(-3000)).toBeGreaterThan(0);
      },
      { timeout: 120_000, interval: 500 },
    );

    const stop = await oma(dir, ['service', 'stop', '--name', NAME, '--timeout', '120']);
    expect(stop.output).toContain(`${NAME}: stopped`);
    expect(stop.code).toBe(0);
    // SERVICE_CONTROL_STOP took the graceful path of `oma run`: the pipeline drained and stopped.
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('"msg":"stopping"');
    expect(log).toContain('"msg":"pipeline stopped"');
    expect((await oma(dir, ['service', 'status', '--name', NAME])).code).toBe(3);

    const uninstall = await oma(dir, ['service', 'uninstall', '--name', NAME]);
    expect(uninstall.code).toBe(0);
    expect((await oma(dir, ['service', 'status', '--name', NAME])).code).toBe(4);
  });
});
