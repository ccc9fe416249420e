import type { ComponentDefinition, ComponentKind, ProcessorDefinition, SinkDefinition, SourceDefinition } from './component.js';

/** The component types the agent knows, by kind and `type` name. Built by the CLI from core and the platform package. */
export class ComponentRegistry {
  private readonly defs = new Map<string, ComponentDefinition>();

  constructor(defs: readonly ComponentDefinition[] = []) {
    for (const d of defs) this.register(d);
  }

  register(def: ComponentDefinition): this {
    const key = `${def.kind}:${def.type}`;
    if (this.defs.has(key)) throw new Error(`component type registered twice: ${key}`);
    if (def.kind === 'source' && def.dcr && this.dcrSource(def.dcr.kind)) {
      throw new Error(`two source types read the data collection rule's ${def.dcr.kind} data sources: ${this.dcrSource(def.dcr.kind)!.type} and ${def.type}`);
    }
    this.defs.set(key, def);
    return this;
  }

  source(type: string): SourceDefinition | undefined {
    return this.defs.get(`source:${type}`) as SourceDefinition | undefined;
  }

  /** The source type that reads the data collection rule's data source kind `kind` (`syslog`, `logFiles`, …). */
  dcrSource(kind: string): SourceDefinition | undefined {
    for (const d of this.defs.values()) if (d.kind === 'source' && d.dcr?.kind === kind) return d;
    return undefined;
  }

  processor(type: string): ProcessorDefinition | undefined {
    return this.defs.get(`processor:${type}`) as ProcessorDefinition | undefined;
  }

  sink(type: string): SinkDefinition | undefined {
    return this.defs.get(`sink:${type}`) as SinkDefinition | undefined;
  }

  types(kind: ComponentKind): string[] {
    return [...this.defs.values()].filter((d) => d.kind === kind).map((d) => d.type).sort();
  }

  all(): ComponentDefinition[] {
    return [...this.defs.values()];
  }
}
