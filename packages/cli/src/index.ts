export { main } from './main.js';
export { configDocs } from './commands/docs.js';
export { loadPlatform, type Platform } from './platform.js';
export { buildRegistry } from './registry.js';
export { parseOnboardArgs, type OnboardOptions } from './commands/onboard.js';
