import { z } from 'zod';
import { secretSchema } from '../config/secret.js';
import { checkServiceUrl } from '../http/url.js';
import { CLOUD_NAMES } from './clouds.js';

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TENANT_RE = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)$/i;

const urlString = z.string().superRefine((v, ctx) => {
  const problem = checkServiceUrl(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Entra ID application with a client secret (client-credentials flow, reference §1.2). */
export const clientSecretAuthSchema = z.strictObject({
  type: z.literal('client_secret').describe('Authenticate as an Entra ID application with a client secret.'),
  tenantId: z
    .string()
    .regex(TENANT_RE, 'expected a tenant GUID or a domain such as contoso.onmicrosoft.com')
    .describe('Entra ID tenant (directory) id, or its primary domain.'),
  clientId: z.string().regex(GUID_RE, 'expected an application (client) id GUID').describe('Application (client) id of the app registration.'),
  clientSecret: secretSchema.describe('Client secret of the app registration: { env: NAME } or { file: PATH } (a literal string is discouraged).'),
  cloud: z.enum(CLOUD_NAMES).default('public').describe('Azure cloud: public, usgov or china. Picks the authority host and the token scope.'),
  authorityHost: urlString
    .optional()
    .describe('Overrides the Entra ID authority host of the cloud, e.g. https://login.microsoftonline.com (tests, private clouds).'),
  scope: z
    .string()
    .min(1)
    .optional()
    .describe("Overrides the token scope of the cloud (default https://monitor.azure.com//.default for the public cloud)."),
});

/** How a sink authenticates to Azure Monitor; variants are tagged by `type`. */
export const authSchema = z
  .discriminatedUnion('type', [clientSecretAuthSchema])
  .describe('How to authenticate to Azure Monitor (Entra ID).');

export type ClientSecretAuthConfig = z.output<typeof clientSecretAuthSchema>;
export type AuthConfig = z.output<typeof authSchema>;
