import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { coreComponents } from '../builtins.js';
import { parseAgentConfig, type AgentConfig } from '../config/agent-config.js';
import type { ConfigError } from '../errors.js';
import { COLUMN_TYPES } from '../model/columns.js';
import type { SourceDefinition } from '../pipeline/component.js';
import { ComponentRegistry } from '../pipeline/registry.js';
import { planAzureStreams } from './plan.js';
import { ARM_TEMPLATE_SCHEMA, buildArmTemplate, MONITORING_METRICS_PUBLISHER_ROLE_ID, type ArmTemplate } from './template.js';

/** A source type that does not say which tables it writes. */
const opaqueSource: SourceDefinition = {
  kind: 'source',
  type: 'opaque',
  description: 'test source',
  schema: z.strictObject({}),
  create: () => ({ start: () => Promise.resolve(), stop: () => Promise.resolve() }),
};
const registry = new ComponentRegistry([...coreComponents(), opaqueSource]);

const azure = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'azure_logs_ingestion',
  endpoint: 'https://oma-dcr-abcd.westeurope-1.ingest.monitor.azure.com',
  dcrImmutableId: 'dcr-0123456789abcdef0123456789abcdef',
  auth: { type: 'client_secret', tenantId: 'contoso.onmicrosoft.com', clientId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', clientSecret: 'x' },
  ...extra,
});

function config(doc: Record<string, unknown>): AgentConfig {
  return parseAgentConfig({ dataDir: 'data', ...doc }, registry);
}

const SOURCES = {
  heartbeat: { type: 'heartbeat' },
  app: { type: 'custom_log', table: 'App_CL', filePatterns: ['/var/log/app/*.log'] },
  web: { type: 'custom_log', table: 'Web_CL', filePatterns: ['/var/log/web/*.log'] },
};

interface Dcr {
  kind: string;
  dependsOn?: string[];
  properties: {
    streamDeclarations: Record<string, { columns: { name: string; type: string }[] }>;
    dataFlows: { streams: string[]; destinations: string[]; transformKql: string; outputStream: string }[];
    destinations: { logAnalytics: { name: string; workspaceResourceId: string }[] };
  };
}
interface TableResource {
  type: string;
  apiVersion: string;
  name: string;
  properties: { schema: { name: string; columns: { name: string; type: string }[] } };
}

function dcrOf(t: ArmTemplate): Dcr {
  const r = t.resources.filter((x) => x.type === 'Microsoft.Insights/dataCollectionRules');
  expect(r).toHaveLength(1);
  return r[0] as unknown as Dcr;
}

function tablesOf(t: ArmTemplate): TableResource[] {
  const nested = t.resources.find((x) => x.type === 'Microsoft.Resources/deployments') as
    | { properties: { template: { resources: TableResource[] } } }
    | undefined;
  return nested?.properties.template.resources ?? [];
}

/** Checks every ARM expression of a template (and of nested inner-scope templates) is well formed. */
function checkExpressions(template: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const params = new Set(Object.keys((template.parameters as Record<string, unknown> | undefined) ?? {}));
  const vars = new Set(Object.keys((template.variables as Record<string, unknown> | undefined) ?? {}));
  const check = (s: string, where: string): void => {
    if (!s.startsWith('[') || s.startsWith('[[')) return;
    if (!s.endsWith(']')) return void problems.push(`${where}: ${s} does not end with ]`);
    const body = s.slice(1, -1);
    let depth = 0;
    let inString = false;
    const stack: string[] = [];
    for (let i = 0; i < body.length; i++) {
      const ch = body[i]!;
      if (inString) {
        if (ch === "'" && body[i + 1] === "'") i++;
        else if (ch === "'") inString = false;
        continue;
      }
      if (ch === "'") inString = true;
      else if (ch === '(' || ch === '[') stack.push(ch === '(' ? ')' : ']');
      else if (ch === ')' || ch === ']') {
        if (stack.pop() !== ch) problems.push(`${where}: unbalanced ${ch} in ${s}`);
      }
      depth = stack.length;
    }
    if (inString || depth !== 0) problems.push(`${where}: unbalanced ${s}`);
    if (!/^[a-zA-Z]+\(/.test(body)) problems.push(`${where}: ${s} does not start with a function call`);
    for (const m of body.matchAll(/parameters\('([^']*)'\)/g)) if (!params.has(m[1]!)) problems.push(`${where}: unknown parameter ${m[1]}`);
    for (const m of body.matchAll(/variables\('([^']*)'\)/g)) if (!vars.has(m[1]!)) problems.push(`${where}: unknown variable ${m[1]}`);
  };
  const walk = (v: unknown, where: string): void => {
    if (typeof v === 'string') check(v, where);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'template' && where.endsWith('.properties') && typeof x === 'object' && x !== null) {
          problems.push(...checkExpressions(x as Record<string, unknown>).map((p) => `${where}.template: ${p}`));
        } else walk(x, `${where}.${k}`);
      }
    }
  };
  for (const [k, v] of Object.entries(template)) if (k !== '$schema') walk(v, k);
  return problems;
}

describe('buildArmTemplate', () => {
  it('declares every table and stream of the config, with mirror tables for Heartbeat', () => {
    const t = buildArmTemplate(config({ sources: SOURCES, destinations: { az: azure() } }), registry);
    expect(t.$schema).toBe(ARM_TEMPLATE_SCHEMA);
    expect(JSON.parse(JSON.stringify(t))).toEqual(t);
    const dcr = dcrOf(t);
    expect(dcr.kind).toBe('Direct');
    expect(Object.keys(dcr.properties.streamDeclarations).sort()).toEqual(['Custom-App_CL', 'Custom-Heartbeat', 'Custom-Web_CL']);
    expect(dcr.properties.dataFlows).toEqual([
      { streams: ['Custom-App_CL'], destinations: ['workspace'], transformKql: 'source', outputStream: 'Custom-App_CL' },
      { streams: ['Custom-Heartbeat'], destinations: ['workspace'], transformKql: 'source', outputStream: 'Custom-Heartbeat_CL' },
      { streams: ['Custom-Web_CL'], destinations: ['workspace'], transformKql: 'source', outputStream: 'Custom-Web_CL' },
    ]);
    expect(dcr.properties.destinations.logAnalytics).toEqual([{ name: 'workspace', workspaceResourceId: "[parameters('workspaceResourceId')]" }]);

    const tables = tablesOf(t);
    expect(tables.map((r) => r.properties.schema.name)).toEqual(['App_CL', 'Heartbeat_CL', 'Web_CL']);
    for (const r of tables) {
      expect(r).toMatchObject({ type: 'Microsoft.OperationalInsights/workspaces/tables', apiVersion: '2022-10-01' });
      expect(r.name).toContain(`'${r.properties.schema.name}'`);
      for (const c of r.properties.schema.columns) expect(['string', 'int', 'long', 'real', 'boolean', 'dateTime', 'guid', 'dynamic']).toContain(c.type);
    }
    const heartbeat = tables.find((r) => r.properties.schema.name === 'Heartbeat_CL')!;
    expect(heartbeat.properties.schema.columns).toContainEqual(expect.objectContaining({ name: 'ComputerPrivateIPs', type: 'dynamic' }));
    expect(heartbeat.properties.schema.columns[0]).toMatchObject({ name: 'TimeGenerated', type: 'dateTime' });
    // The declaration and the table have the same columns.
    expect(dcr.properties.streamDeclarations['Custom-Heartbeat']!.columns.map((c) => c.name)).toEqual(
      heartbeat.properties.schema.columns.map((c) => c.name),
    );
    expect(dcr.dependsOn).toHaveLength(1);
    expect(dcr.dependsOn![0]).toMatch(/Microsoft\.Resources\/deployments/);
  });

  it('declares every data flow stream with DCR column types, and well-formed ARM expressions', () => {
    const t = buildArmTemplate(
      config({ sources: SOURCES, destinations: { az: azure({ streams: { App_CL: 'Custom-MyApp' } }) } }),
      registry,
    );
    const dcr = dcrOf(t);
    for (const f of dcr.properties.dataFlows) {
      for (const s of f.streams) expect(Object.keys(dcr.properties.streamDeclarations)).toContain(s);
      expect(f.outputStream).toMatch(/^(Microsoft-[A-Za-z0-9]+|Custom-[A-Za-z0-9_]+_CL)$/);
    }
    for (const decl of Object.values(dcr.properties.streamDeclarations)) {
      for (const c of decl.columns) expect(COLUMN_TYPES).toContain(c.type);
    }
    expect(checkExpressions(t as unknown as Record<string, unknown>)).toEqual([]);
    // The checker itself catches mistakes.
    expect(checkExpressions({ parameters: { a: {} }, outputs: { x: { value: "[parameters('b')]" }, y: { value: "[concat('a'" } } })).toHaveLength(2);
  });

  it('has the documented parameters, role assignment and outputs', () => {
    const t = buildArmTemplate(config({ sources: SOURCES }), registry);
    expect(Object.keys(t.parameters)).toEqual(expect.arrayContaining(['workspaceResourceId', 'location', 'dcrName', 'principalId']));
    expect(t.parameters.location!.defaultValue).toBe('[resourceGroup().location]');
    expect(t.parameters.principalId!.defaultValue).toBe('');
    expect(t.parameters.workspaceResourceId!.defaultValue).toBeUndefined();
    const role = t.resources.find((r) => r.type === 'Microsoft.Authorization/roleAssignments')!;
    expect(role.condition).toBe("[not(empty(parameters('principalId')))]");
    expect(t.variables.monitoringMetricsPublisherRoleId).toBe(MONITORING_METRICS_PUBLISHER_ROLE_ID);
    expect(JSON.stringify(role)).toContain("subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('monitoringMetricsPublisherRoleId'))");
    expect(t.outputs.dcrImmutableId!.value).toMatch(/^\[reference\(resourceId\('Microsoft\.Insights\/dataCollectionRules', parameters\('dcrName'\)\), '2023-03-11'\)\.immutableId\]$/);
    expect(t.outputs.logsIngestionEndpoint!.value).toMatch(/\.endpoints\.logsIngestion\]$/);
    const dcr = t.resources.find((r) => r.type === 'Microsoft.Insights/dataCollectionRules')!;
    expect(dcr).toMatchObject({ apiVersion: '2023-03-11', location: "[parameters('location')]", name: "[parameters('dcrName')]" });
  });

  it('sends Syslog and Event to Microsoft- output streams with no table to create', () => {
    const plan = planAzureStreams(config({ destinations: { az: azure({ tables: ['Syslog', 'Event'] }) }, sources: { o: { type: 'opaque' } } }), registry);
    expect(plan.flows.map((f) => [f.stream, f.route.outputStream])).toEqual([
      ['Custom-Event', 'Microsoft-Event'],
      ['Custom-Syslog', 'Microsoft-Syslog'],
    ]);
    expect(plan.customTables).toEqual([]);
    expect(plan.warnings).toEqual([expect.stringMatching(/source o \(type opaque\) does not declare its tables/)]);
    const t = buildArmTemplate(config({ destinations: { az: azure({ tables: ['Syslog', 'Event'] }) }, sources: { o: { type: 'opaque' } } }), registry);
    expect(t.resources.some((r) => r.type === 'Microsoft.Resources/deployments')).toBe(false);
    expect(dcrOf(t).dependsOn).toBeUndefined();
    expect(checkExpressions(t as unknown as Record<string, unknown>)).toEqual([]);
  });

  it('filters by the destination tables and honours --destination', () => {
    const cfg = config({
      sources: SOURCES,
      destinations: {
        local: { type: 'local_workspace' },
        beats: azure({ tables: ['Heartbeat'] }),
        logs: azure({ tables: ['App_CL'], streams: { App_CL: 'Custom-AppText' } }),
      },
    });
    const all = planAzureStreams(cfg, registry);
    expect(all.destinations).toEqual(['beats', 'logs']);
    expect(all.tables).toEqual(['App_CL', 'Heartbeat']);
    expect(all.flows.map((f) => f.stream)).toEqual(['Custom-AppText', 'Custom-Heartbeat']);
    expect(all.flows[0]!.route.outputStream).toBe('Custom-App_CL');
    const one = planAzureStreams(cfg, registry, { destination: 'beats' });
    expect(one.tables).toEqual(['Heartbeat']);
    expect(one.customTables.map((r) => r.outputTable)).toEqual(['Heartbeat_CL']);
  });

  it('takes every table of the config when no destination goes to Azure', () => {
    const plan = planAzureStreams(config({ sources: SOURCES, destinations: { local: { type: 'local_workspace' } } }), registry);
    expect(plan.destinations).toEqual([]);
    expect(plan.tables).toEqual(['App_CL', 'Heartbeat', 'Web_CL']);
  });

  it('reports config problems with their paths', () => {
    const issuesOf = (fn: () => unknown): { path: string; message: string }[] => {
      try {
        fn();
      } catch (e) {
        expect((e as { code?: string }).code).toBe('OMA_ERR_CONFIG_INVALID');
        return [...(e as ConfigError).issues];
      }
      throw new Error('expected a ConfigError');
    };
    const cfg = config({ sources: SOURCES, destinations: { local: { type: 'local_workspace' }, az: azure() } });
    expect(issuesOf(() => planAzureStreams(cfg, registry, { destination: 'nope' }))).toEqual([
      { path: 'destinations.nope', message: 'no such enabled destination (azure_logs_ingestion destinations: az)' },
    ]);
    expect(issuesOf(() => planAzureStreams(cfg, registry, { destination: 'local' }))[0]?.path).toBe('destinations.local.type');

    const microsoft = config({ sources: SOURCES, destinations: { az: azure({ streams: { Heartbeat: 'Microsoft-Heartbeat' } }) } });
    const [m] = issuesOf(() => planAzureStreams(microsoft, registry));
    expect(m?.path).toBe('destinations.az.streams.Heartbeat');
    expect(m?.message).toMatch(/only accepts Custom- input streams; use Custom-Heartbeat \(its data flow goes on to Custom-Heartbeat_CL\)/);

    const shared = config({ sources: SOURCES, destinations: { az: azure({ streams: { App_CL: 'Custom-Logs', Web_CL: 'Custom-Logs' } }) } });
    expect(issuesOf(() => planAzureStreams(shared, registry))[0]?.message).toMatch(/stream Custom-Logs already carries table App_CL/);

    const clash = config({ sources: { heartbeat: { type: 'heartbeat' }, fake: { type: 'custom_log', table: 'Heartbeat_CL', filePatterns: ['/x'] } } });
    expect(issuesOf(() => planAzureStreams(clash, registry))).toEqual([
      { path: 'sources.fake', message: expect.stringMatching(/table Heartbeat_CL is where OMA stores Heartbeat records in Azure/) as string },
    ]);

    const empty = config({ sources: SOURCES, destinations: { az: azure({ tables: ['Syslog'] }) } });
    expect(issuesOf(() => planAzureStreams(empty, registry))).toEqual([
      { path: 'destinations.az', message: expect.stringMatching(/no data flow/) as string },
    ]);
  });
});
