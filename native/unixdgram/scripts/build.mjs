// Builds the addon with node-gyp against this machine's Node headers. On another OS there is
// nothing to build: the Linux agent's loader reports the addon as unsupported there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

if (process.platform !== 'linux') {
  console.log(`@oma/native-unixdgram: nothing to build on ${process.platform} (the addon is for Linux)`);
} else {
  const args = ['rebuild'];
  // Use the headers installed beside this Node (e.g. /usr/include/node) unless npm names a nodedir:
  // node-gyp would otherwise download them.
  const prefix = dirname(dirname(process.execPath));
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
    args.push(`--nodedir=${prefix}`);
  }
  const run = spawnSync('node-gyp', args, { stdio: 'inherit', cwd: join(import.meta.dirname, '..') });
  if (run.error) {
    console.error(`@oma/native-unixdgram: cannot run node-gyp (${run.error.message}); run this build through npm, which provides it`);
    process.exitCode = 1;
  } else {
    process.exitCode = run.status ?? 1;
  }
}
