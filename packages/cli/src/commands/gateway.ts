import { readFile } from 'node:fs/promises';
import { MetricsRegistry, parseConfigText } from '@oma/core';
import { createGateway, parseGatewayConfig } from '@oma/gateway';
import { setUpLogging, type LoggingOptions } from '../logging.js';
import { printConfigError } from './validate.js';

/** How the Windows service runs the gateway: its stop control, its RUNNING report, its log destinations. */
export interface GatewayRunOptions {
  readonly stop?: Promise<unknown>;
  readonly onStarted?: () => void;
  readonly logging?: Pick<LoggingOptions, 'console' | 'streams'>;
}

/** `oma gateway [--config FILE]`: the CONNECT gateway until SIGINT/SIGTERM (or `opts.stop`). Without a file, the defaults. */
export async function serveGateway(configFile: string | undefined, out: NodeJS.WritableStream, opts: GatewayRunOptions = {}): Promise<number> {
  let config;
  try {
    const doc = configFile ? parseConfigText(await readFile(configFile, 'utf8'), configFile) : {};
    config = parseGatewayConfig(doc);
  } catch (err) {
    if (printConfigError(err, process.stderr)) return 2;
    throw err;
  }
  const logging = setUpLogging({ level: 'info', pretty: process.stderr.isTTY, ...opts.logging });
  const registry = new MetricsRegistry();
  const gw = await createGateway({ config, log: logging.log, registry });
  const addr = gw.address();
  out.write(`OMA gateway listening on ${addr.host}:${addr.port} (CONNECT only)\n`);
  opts.onStarted?.();
  await new Promise<void>((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
    opts.stop?.then(
      () => r(),
      () => r(),
    );
  });
  await gw.close();
  logging.close();
  return 0;
}
