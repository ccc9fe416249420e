#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { sendBlast, type BlastTarget } from './blast.js';
import { sendParallel } from './parallel.js';
import { findRsyslogLossFreeRate, type RsyslogStep } from './rsyslog-rate.js';
import { sendTcp, sendUdp, sendUnixDgram, type SendPlan, type SendResult } from './senders.js';

const USAGE = `Usage: node tools/loadgen/dist/cli.js COMMAND [options]   (loopback targets only; every run bounded)
  udp  --port N [--host 127.0.0.1] --rate R --count N     one datagram per message
  tcp  --port N [--host 127.0.0.1] --rate R --count N [--framing lf|octet-counted]
  unix --socket PATH --rate R --count N                    through \`logger -u\` (Node has no AF_UNIX datagrams)
      --rate R              messages per second (0: as fast as the target takes them)
      --count N             messages to send (at most 100,000,000)
      --duration-s S        stop after S seconds whatever the count (at most 3600)
      --size BYTES          bytes per message, header included (default 200)
      --format rfc3164|rfc5424   (default rfc3164; unix always sends bodies, logger adds the header)
      --senders N           udp, tcp: N sender threads, each with its socket or connection and an
                            equal share of count and rate (default 1; one sends ~150-200k msg/s)
      --fast                udp, tcp (octet-counted), unix: send with oma-blast, the C sender (sendmmsg
                            batches; RFC 3164 and 5424 alternately, --format ignored; --senders threads;
                            unix senders block on a full receiver); one thread sends ~450k msg/s
      --json                one JSON line instead of text
  rsyslog-rate [--duration-s 10] [--start-rate 25000] [--max-rate 800000] [--refine 4] [--size 200]
               [--rcvbuf BYTES] [--senders N] [--rsyslogd PATH] [--json]
      rsyslog's own loss-free rate here: a private rsyslogd, imudp -> omfile, rate doubled until it
      loses messages, then bisected; CPU per message from /proc/<pid>/stat
`;

function positive(name: string, text: string | undefined, fallback?: number): number {
  const v = text === undefined ? fallback : Number(text);
  if (v === undefined || !Number.isFinite(v) || v < 0) throw new Error(`--${name} takes a number of 0 or more`);
  return v;
}

function printSend(kind: string, r: SendResult, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify({ kind, ...r })}\n`);
  else process.stdout.write(`${kind}: sent ${r.sent} messages (${r.bytes} bytes, ${r.errors} refused) in ${r.elapsedSec.toFixed(2)} s: ${Math.round(r.achievedRate)} msg/s\n`);
}

function printStep(s: RsyslogStep): string {
  return `rate ${s.requestedRate}/s (sent at ${s.sendRate}/s): ${s.written}/${s.sent} written, ${s.lost} lost (${s.kernelDrops} kernel drops), ` +
    `rsyslogd ${s.cpuSec.toFixed(2)} CPU s = ${s.cpuUsPerMsg.toFixed(2)} us/msg${s.senderLimited ? ' [sender-limited]' : ''}`;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      socket: { type: 'string' },
      rate: { type: 'string' },
      count: { type: 'string' },
      'duration-s': { type: 'string' },
      size: { type: 'string', default: '200' },
      format: { type: 'string', default: 'rfc3164' },
      framing: { type: 'string', default: 'octet-counted' },
      json: { type: 'boolean', default: false },
      'start-rate': { type: 'string', default: '25000' },
      'max-rate': { type: 'string', default: '800000' },
      refine: { type: 'string', default: '4' },
      rcvbuf: { type: 'string', default: String(4 * 1024 * 1024) },
      rsyslogd: { type: 'string' },
      senders: { type: 'string', default: '1' },
      fast: { type: 'boolean', default: false },
    },
  });
  const size = positive('size', values.size);
  const senders = positive('senders', values.senders);
  if (cmd === 'rsyslog-rate') {
    const durationSec = positive('duration-s', values['duration-s'], 10);
    const { steps, best } = await findRsyslogLossFreeRate(
      {
        durationSec,
        sizeBytes: size,
        rcvbufBytes: positive('rcvbuf', values.rcvbuf),
        startRate: positive('start-rate', values['start-rate']),
        maxRate: positive('max-rate', values['max-rate']),
        refineSteps: positive('refine', values.refine),
        senders,
        ...(values.rsyslogd === undefined ? {} : { rsyslogd: values.rsyslogd }),
      },
      (s) => {
        if (!values.json) process.stdout.write(`${printStep(s)}\n`);
      },
    );
    if (values.json) process.stdout.write(`${JSON.stringify({ kind: 'rsyslog-rate', durationSec, sizeBytes: size, best, steps })}\n`);
    else process.stdout.write(best === undefined ? 'rsyslog lost messages at every rate tried\n' : `loss-free: ${best.sendRate} msg/s at ${best.cpuUsPerMsg.toFixed(2)} us CPU per message${best.senderLimited ? ' (the sender could go no faster: rsyslog may take more)' : ''}\n`);
    return 0;
  }
  if (values.format !== 'rfc3164' && values.format !== 'rfc5424') throw new Error('--format is rfc3164 or rfc5424');
  if (values.count === undefined || values.rate === undefined) throw new Error('--count and --rate are required');
  const plan: SendPlan = {
    format: values.format,
    sizeBytes: size,
    count: positive('count', values.count),
    ratePerSec: positive('rate', values.rate),
    ...(values['duration-s'] === undefined ? {} : { maxDurationSec: positive('duration-s', values['duration-s']) }),
  };
  const port = (): number => {
    const p = Number(values.port);
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error('--port takes a port number');
    return p;
  };
  if (values.fast) {
    if (cmd !== 'udp' && cmd !== 'tcp' && cmd !== 'unix') throw new Error(`unknown command "${cmd}"`);
    if (cmd === 'tcp' && values.framing !== 'octet-counted') throw new Error('--fast sends TCP octet-counted only');
    let target: BlastTarget;
    if (cmd === 'unix') {
      if (values.socket === undefined) throw new Error('--socket PATH is required');
      target = { transport: 'unix', socket: values.socket };
    } else target = { transport: cmd, host: values.host, port: port() };
    const blastPlan = { ratePerSec: plan.ratePerSec, count: plan.count, sizeBytes: size, threads: senders, ...(plan.maxDurationSec === undefined ? {} : { maxDurationSec: plan.maxDurationSec }) };
    printSend(cmd, await sendBlast(target, blastPlan), values.json);
    return 0;
  }
  switch (cmd) {
    case 'udp':
      printSend('udp', senders > 1 ? await sendParallel({ kind: 'udp', target: { host: values.host, port: port() }, plan }, senders) : await sendUdp({ host: values.host, port: port() }, plan), values.json);
      return 0;
    case 'tcp': {
      if (values.framing !== 'lf' && values.framing !== 'octet-counted') throw new Error('--framing is lf or octet-counted');
      const target = { host: values.host, port: port(), framing: values.framing } as const;
      printSend('tcp', senders > 1 ? await sendParallel({ kind: 'tcp', target, plan }, senders) : await sendTcp(target, plan), values.json);
      return 0;
    }
    case 'unix':
      if (values.socket === undefined) throw new Error('--socket PATH is required');
      printSend('unix', await sendUnixDgram({ socket: values.socket }, { ...plan, format: 'body' }), values.json);
      return 0;
    default:
      throw new Error(`unknown command "${cmd}"`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`loadgen: ${(e as Error).message}\n\n${USAGE}`);
  process.exitCode = 2;
}
