import { readFileSync } from 'node:fs';

const USER_HZ = 100;

/** CPU seconds (user + system) a Linux process used so far, from /proc/<pid>/stat; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')': utime is the 14th field, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return undefined;
  }
}

/**
 * The kernel's view of the UDP sockets bound to `port` on this machine (/proc/net/udp and udp6): whether
 * one is bound, and the datagrams it dropped because its receive buffer was full.
 */
export function udpSocketDrops(port: number): { bound: boolean; drops: number } {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let bound = false;
  let drops = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(hexPort)) {
        bound = true;
        drops += Number(cols[cols.length - 1] ?? 0);
      }
    }
  }
  return { bound, drops };
}
