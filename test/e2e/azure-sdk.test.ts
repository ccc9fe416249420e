import { readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { ClientCertificateCredential, ClientSecretCredential, type ClientSecretCredentialOptions } from '@azure/identity';
import { createSelfSignedCert } from '@oma/core/testing';
import { isAggregateLogsUploadError, LogsIngestionClient } from '@azure/monitor-ingestion';
import { describe, expect, it } from 'vitest';
import { readColumn } from './db.js';
import { runOma, useScenario } from './helpers.js';
import { serveWorkspace, type ServedWorkspace } from './workspace.js';

type PipelinePolicy = NonNullable<ClientSecretCredentialOptions['additionalPolicies']>[number]['policy'];

/** Trusts the workspace's CA for every request of an Azure SDK client (in place of NODE_EXTRA_CA_CERTS). */
function trustPolicy(caFile: string): PipelinePolicy {
  const agent = new Agent({ ca: readFileSync(caFile, 'utf8'), keepAlive: true });
  return {
    name: 'trustLocalWorkspaceCa',
    sendRequest: (request, next) => {
      request.agent = agent;
      return next(request);
    },
  };
}

function sdkClient(ws: ServedWorkspace, secret = ws.clientSecret): LogsIngestionClient {
  const policy = { policy: trustPolicy(ws.caFile!), position: 'perCall' as const };
  const credential = new ClientSecretCredential(ws.tenantId, ws.clientId, secret, {
    authorityHost: ws.url,
    disableInstanceDiscovery: true,
    additionalPolicies: [policy],
  });
  return new LogsIngestionClient(ws.url, credential, { additionalPolicies: [policy] });
}

const rawLines = (n: number, prefix: string): Record<string, unknown>[] =>
  Array.from({ length: n }, (_, i) => ({ TimeGenerated: new Date().toISOString(), RawData: `${prefix} ${i}`, Computer: 'sdk-host' }));

/**
 * The official Azure SDK for JavaScript (`@azure/identity` + `@azure/monitor-ingestion`) against
 * `oma workspace serve --tls`: OpenID discovery, the token endpoint, TLS, gzip chunks of ~1 MiB of JSON.
 */
describe('the Azure SDK against oma workspace serve --tls', () => {
  const sc = useScenario('oma-e2e-azure-sdk-');
  let ws: ServedWorkspace;

  const cert = createSelfSignedCert({ commonName: 'oma-e2e-sdk' });

  it('uploads 10,000 records, all queryable with oma query', async () => {
    const certFile = sc.path('client.crt');
    writeFileSync(certFile, cert.certPem);
    ws = await serveWorkspace(sc.path('workspace'), ['--tls', '--client-certificate', certFile]);
    sc.track(ws.proc, 'SIGTERM');
    expect(ws.url).toMatch(/^https:/);
    await sdkClient(ws).upload(ws.dcr, 'Custom-SdkTen_CL', rawLines(10_000, 'ten'));
    const r = await runOma(['query', 'SdkTen_CL', '--data-dir', sc.path('workspace'), '--json', '--limit', '20000']);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { RawData: string });
    expect(rows).toHaveLength(10_000);
    expect(new Set(rows.map((row) => row.RawData)).size).toBe(10_000);
  });

  it('signs in with ClientCertificateCredential too (a client assertion for the discovered token endpoint)', async () => {
    const policy = { policy: trustPolicy(ws.caFile!), position: 'perCall' as const };
    const credential = new ClientCertificateCredential(ws.tenantId, ws.clientId, { certificate: `${cert.certPem}${cert.keyPem}` }, {
      authorityHost: ws.url,
      disableInstanceDiscovery: true,
      additionalPolicies: [policy],
    });
    const client = new LogsIngestionClient(ws.url, credential, { additionalPolicies: [policy] });
    await client.upload(ws.dcr, 'Custom-SdkCert_CL', rawLines(100, 'cert'));
    expect(readColumn(sc.path('workspace', 'workspace.db'), 'SdkCert_CL', 'RawData')).toHaveLength(100);
  });

  it("gives the SDK Entra's AADSTS error for a wrong secret", async () => {
    let caught: unknown;
    try {
      await sdkClient(ws, 'not-the-secret').upload(ws.dcr, 'Custom-SdkTen_CL', rawLines(1, 'bad'));
    } catch (err) {
      caught = err;
    }
    expect(isAggregateLogsUploadError(caught)).toBe(true);
    const cause = (caught as { errors: Array<{ cause: Error }> }).errors[0]!.cause;
    expect(cause.message).toContain('AADSTS7000215');
  });

  it('stores all of 200,000 small records (chunks that inflate past 1,048,576 bytes)', async () => {
    // The SDK cuts a chunk at 1,000,000 bytes of records, not counting the commas between them: with
    // 18-byte records ({"RawData":"0a1b"}) a chunk is 55,555 records and 1,055,554 bytes of JSON.
    const records = Array.from({ length: 200_000 }, (_, i) => ({ RawData: i.toString(36).padStart(4, '0') }));
    expect(JSON.stringify(records[0])).toHaveLength(18);
    await sdkClient(ws).upload(ws.dcr, 'Custom-SdkSmall_CL', records);
    const stored = readColumn(sc.path('workspace', 'workspace.db'), 'SdkSmall_CL', 'RawData');
    expect(stored).toHaveLength(200_000);
    expect(new Set(stored).size).toBe(200_000);
  });
});
