export { createGateway, type Gateway, type GatewayOptions, type TunnelResult } from './gateway.js';
export {
  DEFAULT_ALLOWED_HOSTS,
  gatewayConfigSchema,
  parseGatewayConfig,
  type GatewayConfig,
  type GatewayConfigInput,
  type UpstreamProxy,
} from './config.js';
export { HostAllowlist, formatTarget, hostPatternProblem, normalizeHost, parseAuthority, type Target } from './allowlist.js';
export { ClientNetworks, DEFAULT_CLIENT_NETWORKS, parseCidr, type Cidr } from './client-networks.js';
