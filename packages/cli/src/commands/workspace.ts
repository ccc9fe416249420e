import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LocalWorkspace, type LocalWorkspaceClient } from '@oma/local-workspace';
import { setUpLogging } from '../logging.js';

export interface WorkspaceServeArgs {
  dataDir: string;
  host: string;
  port: number;
  clientId?: string;
  clientSecret?: string;
  /** PEM certificate registered for the client (certificate credentials). */
  clientCertificateFile?: string;
  /** Turns the HTTP Data Collector API on for this workspace id. */
  workspaceId?: string;
  /** Workspace key (base64) of the Data Collector API; generated when absent. */
  sharedKey?: string;
  /** Serves the IMDS endpoint with a system-assigned identity. */
  managedIdentity?: boolean;
  /** Serves HTTPS with a CA generated into the data directory (reused on later starts). */
  tls?: boolean;
}

/** `oma workspace serve`: the local workspace on its own, until SIGINT/SIGTERM. */
export async function serveWorkspace(args: WorkspaceServeArgs, out: NodeJS.WritableStream): Promise<number> {
  const logging = setUpLogging({ level: 'info', pretty: process.stderr.isTTY });
  const clientId = args.clientId ?? randomUUID();
  const clientSecret = args.clientSecret ?? process.env.OMA_WORKSPACE_CLIENT_SECRET ?? randomBytes(24).toString('base64url');
  const client: LocalWorkspaceClient = args.clientCertificateFile
    ? { clientId, clientSecret, certificatePem: readFileSync(args.clientCertificateFile, 'utf8') }
    : { clientId, clientSecret };
  const sharedKeyGiven = args.sharedKey ?? process.env.OMA_WORKSPACE_SHARED_KEY;
  const sharedKey = sharedKeyGiven ?? randomBytes(64).toString('base64');
  const ws = await LocalWorkspace.start({
    dataDir: resolve(args.dataDir),
    host: args.host,
    port: args.port,
    clients: [client],
    ...(args.workspaceId ? { dataCollector: { workspaceId: args.workspaceId, sharedKey } } : {}),
    ...(args.managedIdentity ? { systemAssigned: true } : {}),
    ...(args.tls ? { tls: true } : {}),
    log: logging.log,
  });
  const lines = [
    `Local workspace listening on ${ws.url}`,
    `  data:          ${resolve(args.dataDir)}`,
    `  tenant:        ${ws.tenantId}`,
    `  DCR:           ${ws.dcrImmutableId}`,
    `  client id:     ${clientId}`,
    `  client secret: ${args.clientSecret || process.env.OMA_WORKSPACE_CLIENT_SECRET ? '(as given)' : clientSecret}`,
  ];
  if (ws.caFile) lines.push(`  CA:            ${ws.caFile}  (trust it: NODE_EXTRA_CA_CERTS=${ws.caFile})`);
  if (args.clientCertificateFile) lines.push(`  client cert:   ${resolve(args.clientCertificateFile)}`);
  lines.push(
    `  token URL:     ${ws.url}/${ws.tenantId}/oauth2/v2.0/token`,
    `  authority:     ${ws.url} (OpenID discovery at ${ws.url}/${ws.tenantId}/v2.0/.well-known/openid-configuration)`,
    `  ingestion:     ${ws.url}/dataCollectionRules/${ws.dcrImmutableId}/streams/Custom-<Table>?api-version=2023-01-01`,
  );
  if (args.managedIdentity) lines.push(`  IMDS:          ${ws.url}/metadata/identity/oauth2/token (system-assigned identity)`);
  if (args.workspaceId) {
    lines.push(
      `  data collector: ${ws.url}/api/logs?api-version=2016-04-01`,
      `  workspace id:  ${args.workspaceId}`,
      `  shared key:    ${sharedKeyGiven ? '(as given)' : sharedKey}`,
    );
  }
  out.write(`${lines.join('\n')}\n\n`);
  await new Promise<void>((r) => {
    process.once('SIGINT', r);
    process.once('SIGTERM', r);
  });
  await ws.close();
  logging.close();
  return 0;
}
