import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { loadClientCertificate } from './client-certificate.js';
import { secretSchema } from '../config/secret.js';
import { checkServiceUrl } from '../http/url.js';
import { CLOUD_NAMES } from './clouds.js';

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TENANT_RE = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)$/i;

const urlString = z.string().superRefine((v, ctx) => {
  const problem = checkServiceUrl(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const tenantIdField = z
  .string()
  .regex(TENANT_RE, 'expected a tenant GUID or a domain such as contoso.onmicrosoft.com')
  .describe('Entra ID tenant (directory) id, or its primary domain.');
const clientIdField = z.string().regex(GUID_RE, 'expected an application (client) id GUID').describe('Application (client) id of the app registration.');
const cloudField = z.enum(CLOUD_NAMES).default('public').describe('Azure cloud: public, usgov or china. Picks the authority host and the token scope.');
const authorityHostField = urlString
  .optional()
  .describe('Overrides the Entra ID authority host of the cloud, e.g. https://login.microsoftonline.com (tests, private clouds).');
const scopeField = z
  .string()
  .min(1)
  .optional()
  .describe('Overrides the token scope of the cloud (default https://monitor.azure.com//.default for the public cloud).');
const identityCloudField = z.enum(CLOUD_NAMES).default('public').describe('Azure cloud: public, usgov or china. Picks the token resource.');
const resourceField = z
  .string()
  .min(1)
  .optional()
  .describe('Overrides the token resource of the cloud (default https://monitor.azure.com for the public cloud; no /.default).');

/** Entra ID application with a client secret (client-credentials flow, docs/protocol-notes.md#client-secret). */
export const clientSecretAuthSchema = z.strictObject({
  type: z.literal('client_secret').describe('Authenticate as an Entra ID application with a client secret.'),
  tenantId: tenantIdField,
  clientId: clientIdField,
  clientSecret: secretSchema.describe('Client secret of the app registration: { env: NAME } or { file: PATH } (a literal string is discouraged).'),
  cloud: cloudField,
  authorityHost: authorityHostField,
  scope: scopeField,
});

/** Entra ID application with a certificate (client assertion, docs/protocol-notes.md#client-certificate). */
export const clientCertificateAuthSchema = z.strictObject({
  type: z.literal('client_certificate').describe('Authenticate as an Entra ID application with a certificate (signed client assertion).'),
  tenantId: tenantIdField,
  clientId: clientIdField,
  certificateFile: z
    .string()
    .min(1)
    .describe(
      'Certificate file: PEM with the certificate and its private key (or the key in keyFile; more certificates form the chain), or a PKCS#12 file (.pfx/.p12).',
    ),
  keyFile: z.string().min(1).optional().describe('PEM private key, when certificateFile holds only the certificate.'),
  passphrase: secretSchema
    .optional()
    .describe('Password of an encrypted PEM private key or of the PKCS#12 file: { env: NAME } or { file: PATH }.'),
  signatureAlgorithm: z
    .enum(['RS256', 'PS256'])
    .default('RS256')
    .describe('Client assertion signature: RS256 with the SHA-1 thumbprint (x5t), or PS256 with the SHA-256 thumbprint (x5t#S256).'),
  sendCertificateChain: z
    .boolean()
    .default(false)
    .describe('Sends the certificate chain (x5c header), needed for subject name and issuer authentication.'),
  cloud: cloudField,
  authorityHost: authorityHostField,
  scope: scopeField,
}).superRefine((c, ctx) => {
  // Load the certificate now, so that `oma validate` reports an unreadable file, a wrong passphrase, a
  // key of another certificate or an expired certificate at its option, not the first token request.
  try {
    loadClientCertificate({
      certificateFile: c.certificateFile,
      ...(c.keyFile !== undefined ? { keyFile: c.keyFile } : {}),
      ...(c.passphrase !== undefined ? { passphrase: c.passphrase } : {}),
    });
  } catch (err) {
    const issues = err instanceof ConfigError ? err.issues : [{ path: 'auth.certificateFile', message: String(err) }];
    for (const issue of issues) {
      ctx.addIssue({ code: 'custom', path: [issue.path.replace(/^auth\./, '')], message: issue.message });
    }
  }
});

/** Managed identity of an Azure VM or scale set, through IMDS (docs/protocol-notes.md#imds). */
export const managedIdentityAuthSchema = z
  .strictObject({
    type: z.literal('managed_identity').describe('Authenticate as the managed identity of this Azure VM or scale set (IMDS).'),
    clientId: z
      .string()
      .regex(GUID_RE, 'expected a client id GUID')
      .optional()
      .describe('Client id of a user-assigned identity; without clientId, objectId or resourceId the system-assigned identity is used.'),
    objectId: z.string().regex(GUID_RE, 'expected an object (principal) id GUID').optional().describe('Object (principal) id of a user-assigned identity.'),
    resourceId: z
      .string()
      .regex(/^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.managedidentity\/userassignedidentities\/[^/]+$/i, 'expected the ARM resource id of a user-assigned identity')
      .optional()
      .describe('ARM resource id of a user-assigned identity (/subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME).'),
    cloud: identityCloudField,
    resource: resourceField,
    endpoint: urlString
      .optional()
      .describe('Overrides the IMDS token endpoint (default http://169.254.169.254/metadata/identity/oauth2/token). Never reached through a proxy.'),
  })
  .superRefine((v, ctx) => {
    const given = (['clientId', 'objectId', 'resourceId'] as const).filter((k) => v[k] !== undefined);
    if (given.length > 1) ctx.addIssue({ code: 'custom', path: [given[1]!], message: `set at most one of clientId, objectId and resourceId (got ${given.join(', ')})` });
  });

/** System-assigned identity of an Azure Arc-enabled server (docs/protocol-notes.md#arc). */
export const arcManagedIdentityAuthSchema = z.strictObject({
  type: z
    .literal('azure_arc_managed_identity')
    .describe('Authenticate as the system-assigned identity of this Azure Arc-enabled server (Connected Machine agent).'),
  cloud: identityCloudField,
  resource: resourceField,
  endpoint: urlString
    .optional()
    .describe(
      'Overrides the Arc token endpoint (default: the IDENTITY_ENDPOINT environment variable, else http://localhost:40342/metadata/identity/oauth2/token). Never reached through a proxy.',
    ),
});

/** How a sink authenticates to Azure Monitor; variants are tagged by `type`. */
export const authSchema = z
  .discriminatedUnion('type', [clientSecretAuthSchema, clientCertificateAuthSchema, managedIdentityAuthSchema, arcManagedIdentityAuthSchema])
  .describe('How to authenticate to Azure Monitor (Entra ID).');

export type ClientSecretAuthConfig = z.output<typeof clientSecretAuthSchema>;
export type ClientCertificateAuthConfig = z.output<typeof clientCertificateAuthSchema>;
export type ManagedIdentityAuthConfig = z.output<typeof managedIdentityAuthSchema>;
export type ArcManagedIdentityAuthConfig = z.output<typeof arcManagedIdentityAuthSchema>;
export type AuthConfig = z.output<typeof authSchema>;
