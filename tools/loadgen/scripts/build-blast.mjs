// Builds oma-blast (csrc/blast.c, the sendmmsg sender) with node-gyp, against this machine's Node
// headers (an executable needs none of them, but node-gyp asks for them: never download). On another
// OS there is nothing to build: the loadgen's Node senders still work there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

if (process.platform !== 'linux') {
  console.log(`@oma/loadgen: oma-blast is not built on ${process.platform} (it is for Linux); the Node senders remain`);
} else {
  const args = ['rebuild'];
  const prefix = dirname(dirname(process.execPath));
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
    args.push(`--nodedir=${prefix}`);
  }
  const run = spawnSync('node-gyp', args, { stdio: 'inherit', cwd: join(import.meta.dirname, '..') });
  if (run.error) {
    console.error(`@oma/loadgen: cannot run node-gyp (${run.error.message}); run this build through npm, which provides it`);
    process.exitCode = 1;
  } else {
    process.exitCode = run.status ?? 1;
  }
}
