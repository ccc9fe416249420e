import type { ComponentDefinition } from '../pipeline/component.js';
import type { HostInfo } from '../ports/host-info.js';

/** Where the agent keeps its files on a platform, unless the config says otherwise. */
export interface PlatformDefaults {
  /** State directory: queues, checkpoints, the local workspace's database. */
  readonly dataDir: string;
}

/**
 * What a platform package (`@oma/linux`, `@oma/windows`) gives the agent: the component types only
 * this OS provides, the host facts, and where files go. Core never asks which OS it runs on; the CLI
 * loads the platform package for this OS and hands its `Platform` to core.
 */
export interface Platform {
  /** `linux`, `windows`, or Node's name for another OS (core only). */
  readonly name: string;
  readonly hostInfo: HostInfo;
  /** Source, processor and sink types only this platform provides (core's own are added by the CLI). */
  readonly components: readonly ComponentDefinition[];
  readonly defaults: PlatformDefaults;
}

/** The module shape every platform package exports. */
export interface PlatformModule {
  createPlatform(): Platform;
}
