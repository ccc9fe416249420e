import { bytesSchema, durationMsSchema } from '@oma/core';
import { z } from 'zod';
import { SYSLOG_FACILITIES, SYSLOG_LEVELS } from './names.js';

const KIB = 1024;
const MIB = 1024 * 1024;

const hostSchema = z.string().min(1).default('127.0.0.1').describe('Address to listen on (127.0.0.1: this host only; 0.0.0.0 or :: for the network).');
const portSchema = (port: number) => z.number().int().min(0).max(65535).default(port).describe(`Port to listen on (0: any free port).`);
const fileModeSchema = z
  .union([z.number().int().min(0).max(0o777), z.string().regex(/^0?[0-7]{3}$/, 'expected an octal mode such as "0660"').transform((s) => parseInt(s, 8))])
  .default(0o666)
  .describe('File mode of the socket path: an octal string such as "0660" (with group) or a number; 438 is 0666, anyone may send.');

export const udpTransportSchema = z.strictObject({
  host: hostSchema,
  port: portSchema(25224),
  receiveBufferBytes: bytesSchema
    .pipe(z.number().int().min(64 * KIB).max(256 * MIB))
    .default(4 * MIB)
    .describe('SO_RCVBUF of the socket (the kernel caps it at net.core.rmem_max): room for bursts.'),
});

export const tcpTransportSchema = z.strictObject({
  host: hostSchema,
  port: portSchema(28330),
  maxConnections: z.number().int().min(1).max(65_536).default(256).describe('Most open connections; more are refused (counted).'),
  idleTimeoutMs: durationMsSchema
    .pipe(z.number().min(0).max(86_400_000))
    .default(300_000)
    .describe('A connection that sends nothing for this long is closed (0: never).'),
});

export const unixTransportSchema = z.strictObject({
  path: z.string().min(1).describe('Path of the unix datagram socket to bind, e.g. /run/oma/syslog.sock (or /dev/log).'),
  mode: fileModeSchema,
  group: z.union([z.string().min(1), z.number().int().min(0)]).optional().describe('Group owning the socket path (name or gid).'),
  receiveBufferBytes: bytesSchema
    .pipe(z.number().int().min(64 * KIB).max(256 * MIB))
    .default(4 * MIB)
    .describe('SO_RCVBUF of the socket (the kernel caps it at net.core.rmem_max).'),
});

export const syslogConfigSchema = z
  .strictObject({
    facilities: z
      .array(z.enum(['*', ...SYSLOG_FACILITIES] as [string, ...string[]]))
      .min(1)
      .default(['*'])
      .describe('Facilities collected, with the names of a DCR\'s facilityNames (auth, cron, local0…) or *.'),
    levels: z
      .array(z.enum(['*', ...SYSLOG_LEVELS] as [string, ...string[]]))
      .min(1)
      .default(['*'])
      .describe('Levels collected, each listed (Debug, Info, Notice, Warning, Error, Critical, Alert, Emergency) or *.'),
    udp: udpTransportSchema.optional().describe('Receive datagrams on UDP (default 127.0.0.1:25224, the OMS agent\'s port).'),
    tcp: tcpTransportSchema.optional().describe('Receive on TCP (default 127.0.0.1:28330): LF framing or RFC 6587 octet counting.'),
    unix: unixTransportSchema.optional().describe('Receive on a unix datagram socket (rsyslog omuxsock, /dev/log).'),
    maxMessageBytes: bytesSchema
      .pipe(z.number().int().min(480).max(4 * MIB))
      .default(64 * KIB)
      .describe('Longest message kept; longer ones are cut to this size (counted as message_truncated).'),
    maxBatchRecords: z.number().int().min(1).max(100_000).default(5000).describe('Most records per emitted batch.'),
    maxBatchBytes: bytesSchema
      .pipe(z.number().int().min(4 * KIB).max(64 * MIB))
      .default(MIB)
      .describe('Most bytes of encoded records (JSON) per emitted batch.'),
    lingerMs: durationMsSchema.pipe(z.number().min(0).max(10_000)).default(5).describe('How long a batch that is not full waits for more messages.'),
    maxEmitsInFlight: z.number().int().min(1).max(16).default(2).describe('Batches handed to the queue at once; TCP and unix sockets pause while more wait.'),
    maxQueuedBatches: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(8)
      .describe('Full batches waiting for the queue before UDP datagrams are dropped (queue_full); only where the UDP socket cannot stop reading (the node:dgram fallback when the addon is not built).'),
  })
  .refine((c) => c.udp !== undefined || c.tcp !== undefined || c.unix !== undefined, {
    message: 'configure at least one transport: udp, tcp or unix',
  });

export type SyslogConfig = z.output<typeof syslogConfigSchema>;
