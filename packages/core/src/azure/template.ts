import type { AgentConfig } from '../config/agent-config.js';
import type { ColumnType } from '../model/columns.js';
import { tableSchema } from '../model/tables.js';
import type { ComponentRegistry } from '../pipeline/registry.js';
import { planAzureStreams, type AzureStreamsPlan, type AzureStreamsPlanOptions } from './plan.js';

export const ARM_TEMPLATE_SCHEMA = 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#';
export const DCR_API_VERSION = '2023-03-11';
export const TABLES_API_VERSION = '2022-10-01';
const DEPLOYMENTS_API_VERSION = '2022-09-01';
const ROLE_ASSIGNMENTS_API_VERSION = '2022-04-01';
/** Built-in role that may send data to a DCR through the Logs Ingestion API. */
export const MONITORING_METRICS_PUBLISHER_ROLE_ID = '3913510d-42f4-4e42-8a64-420c390055eb';
/** Name of the Log Analytics destination inside the DCR. */
const DESTINATION_NAME = 'workspace';

/** Column types of the Tables API, by stream declaration type (the Tables API spells `dateTime`). */
const TABLE_COLUMN_TYPES: Readonly<Record<ColumnType, string>> = {
  string: 'string',
  int: 'int',
  long: 'long',
  real: 'real',
  boolean: 'boolean',
  datetime: 'dateTime',
  dynamic: 'dynamic',
};

/** An ARM deployment template as plain JSON. */
export interface ArmTemplate {
  readonly $schema: string;
  readonly contentVersion: string;
  readonly metadata: Record<string, unknown>;
  readonly parameters: Record<string, Record<string, unknown>>;
  readonly variables: Record<string, unknown>;
  readonly resources: Record<string, unknown>[];
  readonly outputs: Record<string, Record<string, unknown>>;
}

/** A literal string in a template: ARM reads a string starting with `[` as an expression unless doubled. */
function literal(s: string): string {
  return s.startsWith('[') ? `[${s}` : s;
}

const DCR_ID = "resourceId('Microsoft.Insights/dataCollectionRules', parameters('dcrName'))";
const TABLES_DEPLOYMENT_ID =
  "resourceId(variables('workspaceSubscriptionId'), variables('workspaceResourceGroup'), 'Microsoft.Resources/deployments', variables('tablesDeploymentName'))";

/**
 * The ARM template for a plan: the custom tables (in a nested deployment scoped to the workspace's
 * subscription and resource group, so the workspace may live anywhere), a `kind: Direct` DCR whose data
 * flows send each input stream to its output stream, and, when `principalId` is given, a Monitoring
 * Metrics Publisher role assignment on the DCR. Outputs the DCR's immutable id and logs ingestion endpoint.
 */
export function armTemplateFromPlan(plan: AzureStreamsPlan): ArmTemplate {
  const streamDeclarations: Record<string, { columns: { name: string; type: string }[] }> = {};
  for (const f of plan.flows) {
    streamDeclarations[f.stream] = { columns: f.route.columns.map((c) => ({ name: c.name, type: c.type })) };
  }
  const dataFlows = plan.flows.map((f) => ({
    streams: [f.stream],
    destinations: [DESTINATION_NAME],
    transformKql: 'source',
    outputStream: f.route.outputStream,
  }));

  const tableResources = plan.customTables.map((r) => {
    const mirrorOf = r.table !== r.outputTable ? r.table : undefined;
    const base = tableSchema(r.table)?.description ?? 'Custom table.';
    const description = mirrorOf ? `${base} Mirror of the Azure ${mirrorOf} table, written by OMA through the Logs Ingestion API.` : `${base} Written by OMA.`;
    return {
      type: 'Microsoft.OperationalInsights/workspaces/tables',
      apiVersion: TABLES_API_VERSION,
      name: `[format('{0}/{1}', parameters('workspaceName'), '${r.outputTable}')]`,
      properties: {
        schema: {
          name: r.outputTable,
          description: literal(description),
          columns: r.columns.map((c) => ({ name: c.name, type: TABLE_COLUMN_TYPES[c.type], description: literal(c.description) })),
        },
      },
    };
  });

  const resources: Record<string, unknown>[] = [];
  const dcrDependsOn: string[] = [];
  if (tableResources.length > 0) {
    resources.push({
      type: 'Microsoft.Resources/deployments',
      apiVersion: DEPLOYMENTS_API_VERSION,
      name: "[variables('tablesDeploymentName')]",
      subscriptionId: "[variables('workspaceSubscriptionId')]",
      resourceGroup: "[variables('workspaceResourceGroup')]",
      properties: {
        mode: 'Incremental',
        expressionEvaluationOptions: { scope: 'inner' },
        parameters: { workspaceName: { value: "[variables('workspaceName')]" } },
        template: {
          $schema: ARM_TEMPLATE_SCHEMA,
          contentVersion: '1.0.0.0',
          parameters: { workspaceName: { type: 'string' } },
          resources: tableResources,
        },
      },
    });
    dcrDependsOn.push(`[${TABLES_DEPLOYMENT_ID}]`);
  }
  resources.push({
    type: 'Microsoft.Insights/dataCollectionRules',
    apiVersion: DCR_API_VERSION,
    name: "[parameters('dcrName')]",
    location: "[parameters('location')]",
    kind: 'Direct',
    ...(dcrDependsOn.length > 0 ? { dependsOn: dcrDependsOn } : {}),
    properties: {
      description: `OMA: Logs Ingestion API streams for ${plan.tables.join(', ')}.`,
      streamDeclarations,
      destinations: { logAnalytics: [{ name: DESTINATION_NAME, workspaceResourceId: "[parameters('workspaceResourceId')]" }] },
      dataFlows,
    },
  });
  resources.push({
    condition: "[not(empty(parameters('principalId')))]",
    type: 'Microsoft.Authorization/roleAssignments',
    apiVersion: ROLE_ASSIGNMENTS_API_VERSION,
    scope: "[format('Microsoft.Insights/dataCollectionRules/{0}', parameters('dcrName'))]",
    name: `[guid(${DCR_ID}, parameters('principalId'), variables('monitoringMetricsPublisherRoleId'))]`,
    dependsOn: [`[${DCR_ID}]`],
    properties: {
      roleDefinitionId: "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('monitoringMetricsPublisherRoleId'))]",
      principalId: "[parameters('principalId')]",
      principalType: "[parameters('principalType')]",
    },
  });

  return {
    $schema: ARM_TEMPLATE_SCHEMA,
    contentVersion: '1.0.0.0',
    metadata: {
      description: 'Data collection rule (kind Direct) and custom tables for OMA, generated by `oma azure template`.',
      streams: Object.fromEntries(plan.flows.map((f) => [f.stream, f.route.outputTable])),
    },
    parameters: {
      workspaceResourceId: {
        type: 'string',
        metadata: {
          description:
            'Resource id of the Log Analytics workspace: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.OperationalInsights/workspaces/<name>.',
        },
      },
      location: {
        type: 'string',
        defaultValue: '[resourceGroup().location]',
        metadata: { description: 'Region of the data collection rule; must be the region of the workspace.' },
      },
      dcrName: {
        type: 'string',
        defaultValue: 'oma',
        minLength: 1,
        maxLength: 64,
        metadata: { description: 'Name of the data collection rule.' },
      },
      principalId: {
        type: 'string',
        defaultValue: '',
        metadata: {
          description:
            'Object id of the identity OMA signs in as (service principal of an app registration, or a managed identity). When set, it gets the Monitoring Metrics Publisher role on the data collection rule.',
        },
      },
      principalType: {
        type: 'string',
        defaultValue: 'ServicePrincipal',
        allowedValues: ['ServicePrincipal', 'User', 'Group'],
        metadata: { description: 'Kind of principalId (managed identities are ServicePrincipal).' },
      },
    },
    variables: {
      workspaceSubscriptionId: "[split(parameters('workspaceResourceId'), '/')[2]]",
      workspaceResourceGroup: "[split(parameters('workspaceResourceId'), '/')[4]]",
      workspaceName: "[last(split(parameters('workspaceResourceId'), '/'))]",
      tablesDeploymentName: "[take(format('{0}-tables', parameters('dcrName')), 64)]",
      monitoringMetricsPublisherRoleId: MONITORING_METRICS_PUBLISHER_ROLE_ID,
    },
    resources,
    outputs: {
      dcrResourceId: { type: 'string', value: `[${DCR_ID}]` },
      dcrImmutableId: { type: 'string', value: `[reference(${DCR_ID}, '${DCR_API_VERSION}').immutableId]` },
      logsIngestionEndpoint: { type: 'string', value: `[reference(${DCR_ID}, '${DCR_API_VERSION}').endpoints.logsIngestion]` },
    },
  };
}

/**
 * The ARM deployment template (schema 2019-04-01) that prepares Azure for a config: see `planAzureStreams`
 * for which tables and streams, and `armTemplateFromPlan` for what it deploys. Throws ConfigError when the
 * config cannot be expressed as one Direct DCR.
 */
export function buildArmTemplate(config: AgentConfig, registry: ComponentRegistry, options: AzureStreamsPlanOptions = {}): ArmTemplate {
  return armTemplateFromPlan(planAzureStreams(config, registry, options));
}
