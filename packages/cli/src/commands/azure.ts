import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { armTemplateFromPlan, loadAgentConfig, planAzureStreams } from '@oma/core';
import type { Platform } from '../platform.js';
import { buildRegistry } from '../registry.js';
import { printConfigError } from './validate.js';

export const AZURE_USAGE = `Usage:
  oma azure template --config FILE [--destination ID] [--out FILE]
      prints an ARM template that creates the data collection rule (kind Direct) and the custom tables
      the config's sources write; deploy it with \`az deployment group create\`
      -c, --config FILE        the agent config
      -d, --destination ID     only this azure_logs_ingestion destination
      -o, --out FILE           write the template to FILE instead of stdout
`;

export interface AzureTemplateArgs {
  readonly configFile: string;
  /** Only this azure_logs_ingestion destination. */
  readonly destination?: string;
  /** Write the template here instead of to `out`. */
  readonly outFile?: string;
}

/**
 * `oma azure template`: the ARM template for the config (0), or every config problem with its path (2).
 * Warnings (e.g. a source that does not declare its tables) go to `err`.
 */
export async function azureTemplate(args: AzureTemplateArgs, platform: Pick<Platform, 'name' | 'components' | 'defaults'>, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const registry = buildRegistry(platform);
  let text: string;
  try {
    const config = await loadAgentConfig(args.configFile, registry, platform);
    const plan = planAzureStreams(config, registry, args.destination === undefined ? {} : { destination: args.destination });
    for (const w of plan.warnings) err.write(`warning: ${w}\n`);
    text = `${JSON.stringify(armTemplateFromPlan(plan), null, 2)}\n`;
    if (args.outFile !== undefined) {
      await writeFile(args.outFile, text);
      const flows = plan.flows.map((f) => `${f.stream} -> ${f.route.outputTable}`).join(', ');
      out.write(`${args.outFile}: data collection rule with ${plan.flows.length} stream${plan.flows.length === 1 ? '' : 's'} (${flows})\n`);
      return 0;
    }
  } catch (e) {
    if (printConfigError(e, err)) return 2;
    throw e;
  }
  out.write(text);
  return 0;
}

/** `oma azure <subcommand> ...`; returns the exit code (0 for `--help`, 2 for usage errors). */
export async function runAzure(argv: readonly string[], platform: Pick<Platform, 'name' | 'components' | 'defaults'>, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = argv;
  const end = argv.indexOf('--');
  const help = (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
  if (help && (sub === 'template' || sub === '--help' || sub === '-h')) {
    out.write(AZURE_USAGE);
    return 0;
  }
  if (sub !== 'template') {
    err.write(`${sub === undefined ? 'oma azure: a subcommand is required' : `oma azure: unknown subcommand "${sub}"`}\n\n${AZURE_USAGE}`);
    return 2;
  }
  let values: { config?: string | undefined; destination?: string | undefined; out?: string | undefined };
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: { config: { type: 'string', short: 'c' }, destination: { type: 'string', short: 'd' }, out: { type: 'string', short: 'o' } },
    }));
  } catch (e) {
    err.write(`oma azure template: ${(e as Error).message}\n\n${AZURE_USAGE}`);
    return 2;
  }
  if (values.config === undefined) {
    err.write(`oma azure template: --config FILE is required\n\n${AZURE_USAGE}`);
    return 2;
  }
  return azureTemplate(
    {
      configFile: values.config,
      ...(values.destination === undefined ? {} : { destination: values.destination }),
      ...(values.out === undefined ? {} : { outFile: values.out }),
    },
    platform,
    out,
    err,
  );
}
