// Sender process of datagram-receive.ts: floods one target until told to stop, then reports what it
// sent. `unix`: blocking sendmmsg of 64 datagrams per call (a full queue blocks it, nothing is lost);
// `udp`: Node's dgram, up to 512 sends in flight (the kernel drops what the receiver cannot keep up with).
import dgram from 'node:dgram';

const [kind, target, sizeText] = process.argv.slice(2);
const size = Number(sizeText);
const line = '<13>Dec  3 16:20:00 host app[4242]: benchmark message ';
const payload = Buffer.from(line.padEnd(size, 'x').slice(0, size));
let sent = 0;
let stopping = false;

process.on('message', (m) => {
  if (m === 'stop') {
    stopping = true;
    process.send?.({ sent }, () => process.exit(0));
  }
});

if (kind === 'unix') {
  const { UnixDatagramSender } = await import('@oma/linux');
  const sender = UnixDatagramSender.open({ blocking: true });
  const per = 64;
  const slab = Buffer.concat(Array.from({ length: per }, () => payload));
  const lengths = new Uint32Array(per).fill(size);
  process.send?.('ready');
  while (!stopping) {
    try {
      sent += sender.sendSlab(target, slab, lengths).sent;
    } catch {
      break; // the receiver closed
    }
    // Let the stop message in now and then.
    if (sent % (per * 32) === 0) await new Promise((r) => setImmediate(r));
  }
} else {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => undefined);
  await new Promise((r) => socket.connect(Number(target), '127.0.0.1', r));
  process.send?.('ready');
  let inFlight = 0;
  const pump = () => {
    while (!stopping && inFlight < 512) {
      inFlight++;
      socket.send(payload, () => {
        inFlight--;
        sent++;
        if (inFlight === 0) setImmediate(pump);
      });
    }
  };
  pump();
}
