import { startOma, type OmaProcess, type Scenario } from './helpers.js';

export interface ServedWorkspace {
  readonly proc: OmaProcess;
  readonly url: string;
  readonly tenantId: string;
  readonly dcr: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** With --tls: the CA file the workspace printed. */
  readonly caFile?: string;
}

/** Starts `oma workspace serve` on a free loopback port with known client credentials. */
export async function serveWorkspace(dataDir: string, extraArgs: readonly string[] = []): Promise<ServedWorkspace> {
  const clientId = '11111111-2222-3333-4444-555555555555';
  const clientSecret = 'e2e-secret-value';
  const proc = startOma([
    'workspace',
    'serve',
    '--data-dir',
    dataDir,
    '--port',
    '0',
    '--client-id',
    clientId,
    '--client-secret',
    clientSecret,
    ...extraArgs,
  ]);
  const url = (await proc.waitForOutput(/listening on (https?:\/\/127\.0\.0\.1:\d+)/))[1]!;
  const tenantId = (await proc.waitForOutput(/tenant: +(\S+)/))[1]!;
  const dcr = (await proc.waitForOutput(/DCR: +(dcr-[0-9a-f]+)/))[1]!;
  const caFile = url.startsWith('https:') ? (await proc.waitForOutput(/CA: +(\S+)/))[1]! : undefined;
  return { proc, url, tenantId, dcr, clientId, clientSecret, ...(caFile ? { caFile } : {}) };
}

/** `serveWorkspace` in the scenario directory `name`, stopped with SIGTERM when the scenario ends. */
export async function scenarioWorkspace(sc: Scenario, name = 'workspace', extraArgs: readonly string[] = []): Promise<ServedWorkspace> {
  const ws = await serveWorkspace(sc.path(name), extraArgs);
  sc.track(ws.proc, 'SIGTERM');
  return ws;
}

/** YAML for a destination that sends to a served workspace through the Logs Ingestion API. */
export function destinationYaml(ws: ServedWorkspace, id = 'ws'): string {
  return [
    `  ${id}:`,
    '    type: azure_logs_ingestion',
    `    endpoint: ${ws.url}`,
    `    dcrImmutableId: ${ws.dcr}`,
    '    flushIntervalMs: 200',
    '    retry: { initialDelayMs: 200, maxDelayMs: 1000 }',
    '    auth:',
    '      type: client_secret',
    `      tenantId: ${ws.tenantId}`,
    `      clientId: ${ws.clientId}`,
    `      clientSecret: ${ws.clientSecret}`,
    `      authorityHost: ${ws.url}`,
  ].join('\n');
}

export async function addFault(ws: ServedWorkspace, rule: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${ws.url}/_admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
  if (!res.ok) throw new Error(`adding a fault failed: ${res.status} ${await res.text()}`);
}

export async function clearFaults(ws: ServedWorkspace): Promise<void> {
  const res = await fetch(`${ws.url}/_admin/faults`, { method: 'DELETE' });
  if (!res.ok) throw new Error(`clearing faults failed: ${res.status}`);
}

/** Workspace id and key of the Data Collector API of workspaces served with `dataCollectorArgs`. */
export const E2E_WORKSPACE_ID = '0b5c3a2e-6f4d-4c1b-9a8e-7d6f5e4c3b2a';
export const E2E_SHARED_KEY = Buffer.alloc(64, 7).toString('base64');
export const dataCollectorArgs: readonly string[] = ['--workspace-id', E2E_WORKSPACE_ID, '--shared-key', E2E_SHARED_KEY];

/** YAML for a destination that sends to a served workspace through the HTTP Data Collector API. */
export function dataCollectorYaml(ws: ServedWorkspace, id: string, logTypes: Record<string, string> = {}): string {
  return [
    `  ${id}:`,
    '    type: azure_data_collector',
    `    endpoint: ${ws.url}`,
    `    workspaceId: ${E2E_WORKSPACE_ID}`,
    `    sharedKey: ${E2E_SHARED_KEY}`,
    `    logTypes: ${JSON.stringify(logTypes)}`,
    '    flushIntervalMs: 200',
    '    retry: { initialDelayMs: 200, maxDelayMs: 1000 }',
  ].join('\n');
}
