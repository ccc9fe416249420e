import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { LocalWorkspace } from '@oma/local-workspace';
import { setUpLogging } from '../logging.js';

export interface WorkspaceServeArgs {
  dataDir: string;
  host: string;
  port: number;
  clientId?: string;
  clientSecret?: string;
}

/** `oma workspace serve`: the local workspace on its own, until SIGINT/SIGTERM. */
export async function serveWorkspace(args: WorkspaceServeArgs, out: NodeJS.WritableStream): Promise<number> {
  const logging = setUpLogging({ level: 'info', pretty: process.stderr.isTTY });
  const clientId = args.clientId ?? randomUUID();
  const clientSecret = args.clientSecret ?? process.env.OMA_WORKSPACE_CLIENT_SECRET ?? randomBytes(24).toString('base64url');
  const ws = await LocalWorkspace.start({
    dataDir: resolve(args.dataDir),
    host: args.host,
    port: args.port,
    clients: [{ clientId, clientSecret }],
    log: logging.log,
  });
  out.write(
    [
      `Local workspace listening on ${ws.url}`,
      `  data:          ${resolve(args.dataDir)}`,
      `  tenant:        ${ws.tenantId}`,
      `  DCR:           ${ws.dcrImmutableId}`,
      `  client id:     ${clientId}`,
      `  client secret: ${args.clientSecret || process.env.OMA_WORKSPACE_CLIENT_SECRET ? '(as given)' : clientSecret}`,
      `  token URL:     ${ws.url}/${ws.tenantId}/oauth2/v2.0/token`,
      `  ingestion:     ${ws.url}/dataCollectionRules/${ws.dcrImmutableId}/streams/Custom-<Table>?api-version=2023-01-01`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((r) => {
    process.once('SIGINT', r);
    process.once('SIGTERM', r);
  });
  await ws.close();
  logging.close();
  return 0;
}
