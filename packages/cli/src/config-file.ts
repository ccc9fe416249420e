/** Default config file: $OMA_CONFIG, else config/oma.yaml under the working directory. */
export function defaultConfigFile(): string {
  return process.env.OMA_CONFIG ?? 'config/oma.yaml';
}
