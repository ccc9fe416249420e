// Builds the addon with node-gyp against the headers of the Node.js that runs this script (never a
// download). On another OS there is nothing to build: the Linux agent's loader reports "unsupported".
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

if (process.platform !== 'linux') {
  console.log(`@oma/native-journal: nothing to build on ${process.platform} (the journal addon is for Linux)`);
  process.exit(0);
}
// The installation prefix of this node (…/bin/node -> …), whose include/node holds its headers.
const prefix = dirname(dirname(process.execPath));
const args = ['rebuild'];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const r = spawnSync('node-gyp', args, { stdio: 'inherit', shell: false });
if (r.error) {
  console.error(`@oma/native-journal: node-gyp did not run: ${r.error.message} (run the build through npm, which puts node-gyp on PATH)`);
  process.exit(1);
}
process.exit(r.status ?? 1);
