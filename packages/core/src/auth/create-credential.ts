import type { TlsClientOptions } from '../http/dispatcher.js';
import type { Egress } from '../http/egress.js';
import type { Logger } from '../telemetry/logger.js';
import type { CredentialOptions } from './cached-token-credential.js';
import { ARC_IDENTITY_ENDPOINT, ArcManagedIdentityCredential, defaultArcKeyDirectory } from './arc-managed-identity-credential.js';
import { CERTIFICATE_EXPIRY_WARNING_MS, loadClientCertificate } from './client-certificate.js';
import { ClientCertificateCredential } from './client-certificate-credential.js';
import { ClientSecretCredential } from './client-secret-credential.js';
import { CLOUDS } from './clouds.js';
import type { AuthConfig } from './config.js';
import type { TokenCredential } from './credential.js';
import { ManagedIdentityCredential, type ManagedIdentitySelector } from './managed-identity-credential.js';
import { HOST_OS } from '../platform/host-os.js';

export interface CredentialDeps extends CredentialOptions {
  readonly tls?: TlsClientOptions;
  /**
   * Proxy and TLS settings towards Entra ID (client secret and certificate). Managed identity endpoints
   * (IMDS, Azure Arc) are always reached directly.
   */
  readonly egress?: Egress;
  /** Where start-up warnings go (a client certificate that expires soon). */
  readonly log?: Logger;
  /** Environment (`IDENTITY_ENDPOINT`, `ProgramData`); default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Platform whose Azure Arc key directory applies; default the host's (`HOST_OS`). */
  readonly platform?: NodeJS.Platform;
}

/**
 * Builds the credential an auth config describes. New credential types are added here only. Throws a
 * ConfigError when a client certificate cannot be used (unreadable, wrong passphrase, expired, …).
 */
export function createCredential(auth: AuthConfig, deps: CredentialDeps): TokenCredential {
  const common = {
    clock: deps.clock,
    userAgent: deps.userAgent,
    requestTimeoutMs: deps.requestTimeoutMs,
    ...(deps.egress ? { egress: deps.egress } : {}),
    ...(deps.onRefreshError ? { onRefreshError: deps.onRefreshError } : {}),
  };
  const tls = deps.tls ? { tls: deps.tls } : {};
  const cloud = CLOUDS[auth.cloud];
  switch (auth.type) {
    case 'client_secret':
      return new ClientSecretCredential({
        ...common,
        ...tls,
        tenantId: auth.tenantId,
        clientId: auth.clientId,
        clientSecret: auth.clientSecret,
        authorityHost: auth.authorityHost ?? cloud.authorityHost,
        scope: auth.scope ?? cloud.logsIngestionScope,
      });
    case 'client_certificate': {
      const now = deps.clock.now();
      const certificate = loadClientCertificate(
        {
          certificateFile: auth.certificateFile,
          ...(auth.keyFile ? { keyFile: auth.keyFile } : {}),
          ...(auth.passphrase ? { passphrase: auth.passphrase } : {}),
        },
        now,
      );
      if (certificate.notAfter.getTime() - now < CERTIFICATE_EXPIRY_WARNING_MS) {
        deps.log?.warn(
          {
            thumbprint: certificate.thumbprint,
            expiresAt: certificate.notAfter.toISOString(),
            days: Math.floor((certificate.notAfter.getTime() - now) / 86_400_000),
          },
          'client certificate expires within 30 days; upload a new one to the app registration',
        );
      }
      return new ClientCertificateCredential({
        ...common,
        ...tls,
        tenantId: auth.tenantId,
        clientId: auth.clientId,
        certificate,
        algorithm: auth.signatureAlgorithm,
        sendCertificateChain: auth.sendCertificateChain,
        authorityHost: auth.authorityHost ?? cloud.authorityHost,
        scope: auth.scope ?? cloud.logsIngestionScope,
      });
    }
    case 'managed_identity': {
      const identity: ManagedIdentitySelector | undefined =
        auth.clientId !== undefined
          ? { clientId: auth.clientId }
          : auth.objectId !== undefined
            ? { objectId: auth.objectId }
            : auth.resourceId !== undefined
              ? { resourceId: auth.resourceId }
              : undefined;
      return new ManagedIdentityCredential({
        ...common,
        resource: auth.resource ?? cloud.logsIngestionResource,
        ...(auth.endpoint ? { endpoint: auth.endpoint } : {}),
        ...(identity ? { identity } : {}),
      });
    }
    case 'azure_arc_managed_identity': {
      const env = deps.env ?? process.env;
      const platform = deps.platform ?? HOST_OS;
      const keyDirectory = defaultArcKeyDirectory(platform, env);
      return new ArcManagedIdentityCredential({
        ...common,
        resource: auth.resource ?? cloud.logsIngestionResource,
        endpoint: auth.endpoint ?? (env.IDENTITY_ENDPOINT || ARC_IDENTITY_ENDPOINT),
        platform,
        ...(keyDirectory ? { keyDirectory } : {}),
      });
    }
  }
}
