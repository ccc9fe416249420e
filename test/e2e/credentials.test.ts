import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSelfSignedCert } from '@oma/core/testing';
import { describe, expect, it, vi } from 'vitest';
import { readColumn } from './db.js';
import { agentYaml, customLogYaml, useScenario } from './helpers.js';
import { serveWorkspace } from './workspace.js';

/**
 * The real `oma` binary signs in with each credential kind against `oma workspace serve`: client secret,
 * client certificate (RS256 + x5t and PS256 + x5t#S256, PEM and key files) and managed identity through
 * the workspace's IMDS endpoint. Each destination receives its own table.
 */
describe('credential kinds end to end', () => {
  const sc = useScenario('oma-e2e-creds-');

  it('delivers through client_secret, client_certificate and managed_identity', async () => {
    const cert = createSelfSignedCert({ commonName: 'oma-e2e' });
    const certFile = sc.path('client.crt');
    const keyFile = sc.path('client.key');
    writeFileSync(certFile, cert.certPem);
    writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
    const combined = sc.path('client.pem');
    writeFileSync(combined, `${cert.certPem}${cert.keyPem}`, { mode: 0o600 });
    const ws = await serveWorkspace(sc.path('workspace'), ['--client-certificate', certFile, '--managed-identity']);
    sc.track(ws.proc, 'SIGTERM');

    const logDir = sc.path('logs');
    mkdirSync(logDir);
    const kinds = {
      secret: ['      type: client_secret', `      clientSecret: ${ws.clientSecret}`],
      certrs: ['      type: client_certificate', `      certificateFile: ${certFile}`, `      keyFile: ${keyFile}`],
      certps: ['      type: client_certificate', `      certificateFile: ${combined}`, '      signatureAlgorithm: PS256'],
      mi: ['      type: managed_identity', `      endpoint: ${ws.url}/metadata/identity/oauth2/token`],
    } as const;
    const tableOf = (k: string): string => `Cred${k[0]!.toUpperCase()}${k.slice(1)}_CL`;
    const sources: string[] = [];
    for (const k of Object.keys(kinds)) {
      writeFileSync(join(logDir, `${k}.log`), '');
      sources.push(customLogYaml(k, tableOf(k), join(logDir, `${k}.log`)));
    }
    const destinations: string[] = [];
    for (const [k, auth] of Object.entries(kinds)) {
      destinations.push(
        `  ${k}:`,
        '    type: azure_logs_ingestion',
        `    tables: [${tableOf(k)}]`,
        `    endpoint: ${ws.url}`,
        `    dcrImmutableId: ${ws.dcr}`,
        '    flushIntervalMs: 200',
        '    auth:',
        ...auth,
        ...(k === 'mi' ? [] : [`      tenantId: ${ws.tenantId}`, `      clientId: ${ws.clientId}`, `      authorityHost: ${ws.url}`]),
      );
    }
    const config = sc.path('oma.yaml');
    writeFileSync(config, agentYaml({ dataDir: sc.path('data'), sources, destinations }));
    const agent = sc.startOma(['run', '--config', config]);
    await agent.waitForOutput(/OMA .* running/);
    for (const k of Object.keys(kinds)) appendFileSync(join(logDir, `${k}.log`), `hello from ${k}\n`);

    const dbFile = sc.path('workspace', 'workspace.db');
    for (const k of Object.keys(kinds)) {
      await vi.waitFor(() => expect(readColumn(dbFile, tableOf(k), 'RawData')).toEqual([`hello from ${k}`]), { timeout: 20_000, interval: 200 });
    }
    const res = await fetch(`${ws.url}/_admin/requests?route=token`);
    const { requests } = (await res.json()) as { requests: Array<{ status: number }> };
    expect(requests.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(3);
    const imds = (await (await fetch(`${ws.url}/_admin/requests?route=imds`)).json()) as { requests: Array<{ status: number }> };
    expect(imds.requests.some((r) => r.status === 200)).toBe(true);
    expect((await agent.kill('SIGTERM')).code).toBe(0);
  });
});
