export { assertLoopback } from './loopback.js';
export { MessageFactory, sequenceOf, type MessageFormat, type MessageOptions } from './messages.js';
export { Pacer } from './pacer.js';
export { cpuSeconds, udpSocketDrops } from './proc.js';
export { findRsyslogLossFreeRate, measureRsyslogUdp, type RsyslogRateOptions, type RsyslogStep, type SearchOptions } from './rsyslog-rate.js';
export {
  loggerUnixSender, MAX_COUNT, MAX_DURATION_SEC, sendTcp, sendUdp, sendUnixDgram, type SendPlan, type SendResult, type TcpFraming, type UnixDatagramSender,
} from './senders.js';
export { sendParallel, type WorkerTask } from './parallel.js';
export { BLAST_PATH, blastAvailable, sendBlast, type BlastPlan, type BlastResult, type BlastTarget } from './blast.js';
