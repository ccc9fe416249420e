import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { COLUMN_TYPES, GENERIC_DEFAULTS, tableRoute } from '@oma/core';
import { runAzure } from './azure.js';

const dir = mkdtempSync(join(tmpdir(), 'oma-azure-template-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, [`dataDir: ${join(dir, 'data')}`, ...lines, ''].join('\n'));
  return file;
}

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  err.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await runAzure(args, { name: 'generic', components: [], defaults: GENERIC_DEFAULTS }, out, err);
  return { code, stdout, stderr };
}

const AZURE_DESTINATION = [
  '  az:',
  '    type: azure_logs_ingestion',
  '    endpoint: https://oma-abcd.westeurope-1.ingest.monitor.azure.com',
  '    dcrImmutableId: dcr-0123456789abcdef0123456789abcdef',
  '    auth: { type: client_secret, tenantId: contoso.onmicrosoft.com, clientId: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, clientSecret: x }',
];

interface Template {
  parameters: Record<string, unknown>;
  resources: {
    type: string;
    properties: {
      streamDeclarations?: Record<string, { columns: { name: string; type: string }[] }>;
      dataFlows?: { streams: string[]; outputStream: string }[];
      template?: { resources: { properties: { schema: { name: string } } }[] };
    };
  }[];
  outputs: Record<string, { value: string }>;
}

describe('oma azure template', () => {
  it('prints a template declaring every table and stream the config uses', async () => {
    const file = configFile('oma.yaml', [
      'sources:',
      '  heartbeat: { type: heartbeat }',
      '  app: { type: custom_log, table: AppLogs_CL, filePatterns: ["/var/log/app/*.log"] }',
      'destinations:',
      '  local: { type: local_workspace }',
    ]);
    const r = await run('template', '--config', file);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const t = JSON.parse(r.stdout) as Template;
    const dcr = t.resources.find((x) => x.type === 'Microsoft.Insights/dataCollectionRules')!;
    const declared = dcr.properties.streamDeclarations!;
    const flows = dcr.properties.dataFlows!;
    const tables = t.resources.find((x) => x.type === 'Microsoft.Resources/deployments')!.properties.template!.resources.map((x) => x.properties.schema.name);
    for (const table of ['Heartbeat', 'AppLogs_CL']) {
      const route = tableRoute(table);
      expect(Object.keys(declared)).toContain(route.stream);
      expect(flows).toContainEqual(expect.objectContaining({ streams: [route.stream], outputStream: route.outputStream }));
      expect(tables).toContain(route.outputTable);
    }
    for (const f of flows) for (const s of f.streams) expect(declared[s]).toBeDefined();
    for (const d of Object.values(declared)) for (const c of d.columns) expect(COLUMN_TYPES).toContain(c.type);
    expect(Object.keys(t.outputs)).toEqual(expect.arrayContaining(['dcrImmutableId', 'logsIngestionEndpoint']));
    expect(Object.keys(t.parameters)).toEqual(expect.arrayContaining(['workspaceResourceId', 'location', 'dcrName', 'principalId']));
  });

  it('writes --out and takes --destination', async () => {
    const file = configFile('dest.yaml', [
      'sources:',
      '  heartbeat: { type: heartbeat }',
      '  app: { type: custom_log, table: AppLogs_CL, filePatterns: ["/var/log/app/*.log"] }',
      'destinations:',
      ...AZURE_DESTINATION,
      '    tables: [Heartbeat]',
    ]);
    const outFile = join(dir, 'dcr.json');
    const r = await run('template', '--config', file, '--destination', 'az', '--out', outFile);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/dcr\.json: data collection rule with 1 stream \(Custom-Heartbeat -> Heartbeat_CL\)/);
    const t = JSON.parse(readFileSync(outFile, 'utf8')) as Template;
    const dcr = t.resources.find((x) => x.type === 'Microsoft.Insights/dataCollectionRules')!;
    expect(Object.keys(dcr.properties.streamDeclarations!)).toEqual(['Custom-Heartbeat']);
  });

  it('exits 2 with every config problem, like oma validate', async () => {
    const bad = configFile('bad.yaml', ['sources:', '  app: { type: custom_log, table: NotCustom, filePatterns: [] }']);
    const r = await run('template', '--config', bad);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/sources\.app\.table: /);
    expect(r.stderr).toMatch(/sources\.app\.filePatterns: /);

    const file = configFile('nodest.yaml', ['sources:', '  heartbeat: { type: heartbeat }', 'destinations:', ...AZURE_DESTINATION]);
    const missing = await run('template', '--config', file, '--destination', 'other');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/destinations\.other: no such enabled destination \(azure_logs_ingestion destinations: az\)/);
  });

  it('exits 2 on usage errors', async () => {
    expect((await run()).code).toBe(2);
    expect((await run('deploy')).stderr).toMatch(/unknown subcommand "deploy"/);
    expect((await run('template')).stderr).toMatch(/--config FILE is required/);
    expect((await run('template', '--config', 'x', '--bogus')).code).toBe(2);
  });
});
