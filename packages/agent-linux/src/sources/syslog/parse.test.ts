import { describe, expect, it } from 'vitest';
import { FACILITY_KEYWORDS, SEVERITY_KEYWORDS, facilityMask, levelMask } from './names.js';
import { DROP_BINARY, DROP_EMPTY, FORMAT_RFC3164, FORMAT_RFC5424, FORMAT_UNPARSED, ParsedSyslog, parseSyslog, type ParseResult } from './parse.js';

interface Fields {
  format: ParseResult;
  facility?: string;
  severity?: string;
  time?: string;
  host?: string;
  app?: string;
  pid?: number;
  sd?: string;
  msg?: string;
}

/** Parses `frame` (a string, or bytes) and returns its fields as strings. */
function parse(frame: string | Buffer, nowMs = Date.UTC(2024, 5, 15, 12, 0, 0)): Fields {
  // Inside a larger buffer, so that offsets are checked too.
  const bytes = typeof frame === 'string' ? Buffer.from(frame) : frame;
  const buf = Buffer.concat([Buffer.from('xxxx'), bytes, Buffer.from('yyyy')]);
  const m = new ParsedSyslog();
  const r = parseSyslog(buf, 4, 4 + bytes.length, nowMs, m);
  if (r < 0) return { format: r };
  const s = (a: number, b: number) => (a < 0 ? undefined : buf.toString('utf8', a, b));
  const out: Fields = {
    format: r,
    facility: FACILITY_KEYWORDS[m.pri >> 3],
    severity: SEVERITY_KEYWORDS[m.pri & 7],
    time: Number.isNaN(m.timeMs) ? undefined : new Date(m.timeMs).toISOString(),
    host: s(m.hostStart, m.hostEnd),
    app: s(m.appStart, m.appEnd),
    pid: m.pid < 0 ? undefined : m.pid,
    sd: s(m.sdStart, m.sdEnd),
    msg: s(m.msgStart, m.msgEnd),
  };
  for (const k of Object.keys(out) as Array<keyof Fields>) if (out[k] === undefined) delete out[k];
  return out;
}

/** The ISO time of a local wall-clock time (RFC 3164 time stamps are the sender's local time). */
function local(y: number, mo: number, d: number, h: number, mi: number, s: number, ms = 0): string {
  return new Date(y, mo - 1, d, h, mi, s, ms).toISOString();
}

describe('RFC 3164', () => {
  const cases: Array<[string, string, Omit<Fields, 'format'>]> = [
    [
      'the RFC example (host, tag, no pid)',
      '<34>Oct 11 22:14:15 mymachine su: \'su root\' failed for lonvick on /dev/pts/8',
      { facility: 'auth', severity: 'crit', time: local(2024, 10, 11, 22, 14, 15), host: 'mymachine', app: 'su', msg: "'su root' failed for lonvick on /dev/pts/8" },
    ],
    [
      'tag[pid]',
      '<86>Jun 15 11:59:01 web01 sshd[2741]: Accepted publickey for deploy from 10.1.2.3 port 51514 ssh2',
      { facility: 'authpriv', severity: 'info', time: local(2024, 6, 15, 11, 59, 1), host: 'web01', app: 'sshd', pid: 2741, msg: 'Accepted publickey for deploy from 10.1.2.3 port 51514 ssh2' },
    ],
    [
      'space-padded day, missing host name (glibc syslog() to /dev/log)',
      '<30>Jun  5 08:00:00 systemd[1]: Started Daily apt download activities.',
      { facility: 'daemon', severity: 'info', time: local(2024, 6, 5, 8, 0, 0), app: 'systemd', pid: 1, msg: 'Started Daily apt download activities.' },
    ],
    [
      'missing host name, tag without pid',
      '<13>Jun 15 11:00:00 myapp: hello world',
      { facility: 'user', severity: 'notice', time: local(2024, 6, 15, 11, 0, 0), app: 'myapp', msg: 'hello world' },
    ],
    [
      'tag with / (postfix)',
      '<22>Jun 15 10:00:00 mx1 postfix/smtpd[1234]: connect from unknown[192.0.2.1]',
      { facility: 'mail', severity: 'info', time: local(2024, 6, 15, 10, 0, 0), host: 'mx1', app: 'postfix/smtpd', pid: 1234, msg: 'connect from unknown[192.0.2.1]' },
    ],
    [
      'tag with . and -',
      '<14>Jun 15 10:00:00 node-3 io.containerd.runtime-v2.task[99]: shim started',
      { facility: 'user', severity: 'info', time: local(2024, 6, 15, 10, 0, 0), host: 'node-3', app: 'io.containerd.runtime-v2.task', pid: 99, msg: 'shim started' },
    ],
    [
      'a long tag (beyond the 32 characters of RFC 3164)',
      `<14>Jun 15 10:00:00 h1 ${'a'.repeat(100)}-service: ok`,
      { facility: 'user', severity: 'info', time: local(2024, 6, 15, 10, 0, 0), host: 'h1', app: `${'a'.repeat(100)}-service`, msg: 'ok' },
    ],
    [
      'no tag: the message starts after the host name',
      '<13>Jun 15 10:00:00 h1 just some text here',
      { facility: 'user', severity: 'notice', time: local(2024, 6, 15, 10, 0, 0), host: 'h1', msg: 'just some text here' },
    ],
    [
      'kernel messages',
      '<4>Jun 15 10:00:00 h1 kernel: [12345.678901] eth0: link down',
      { facility: 'kern', severity: 'warning', time: local(2024, 6, 15, 10, 0, 0), host: 'h1', app: 'kernel', msg: '[12345.678901] eth0: link down' },
    ],
    [
      'an RFC 3339 time stamp in the 3164 position (rsyslog high precision)',
      '<165>2024-06-15T10:20:30.123456+02:00 app01 nginx[77]: GET / 200',
      { facility: 'local4', severity: 'notice', time: '2024-06-15T08:20:30.123Z', host: 'app01', app: 'nginx', pid: 77, msg: 'GET / 200' },
    ],
    [
      'RFC 3339 in UTC, no host name',
      '<11>2024-06-15T10:20:30Z cron[5]: job done',
      { facility: 'user', severity: 'err', time: '2024-06-15T10:20:30.000Z', app: 'cron', pid: 5, msg: 'job done' },
    ],
    [
      'Cisco: sequence number, * (clock not synchronised), milliseconds, colon after the time',
      '<189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured from console by vty0 (10.0.0.1)',
      { facility: 'local7', severity: 'notice', time: local(2024, 3, 1, 18, 46, 11, 123), app: '%SYS-5-CONFIG_I', msg: 'Configured from console by vty0 (10.0.0.1)' },
    ],
    [
      'Cisco: . marker, year and UTC time zone',
      '<187>45: .Jun 14 2024 23:59:59.500 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down',
      { facility: 'local7', severity: 'err', time: '2024-06-14T23:59:59.500Z', app: '%LINK-3-UPDOWN', msg: 'Interface Gi0/1, changed state to down' },
    ],
    [
      'IPv4 address as host name',
      '<134>Jun 15 10:00:00 192.0.2.10 haproxy[3]: backend up',
      { facility: 'local0', severity: 'info', time: local(2024, 6, 15, 10, 0, 0), host: '192.0.2.10', app: 'haproxy', pid: 3, msg: 'backend up' },
    ],
    [
      'IPv6 address as host name',
      '<134>Jun 15 10:00:00 2001:db8::7 app: up',
      { facility: 'local0', severity: 'info', time: local(2024, 6, 15, 10, 0, 0), host: '2001:db8::7', app: 'app', msg: 'up' },
    ],
    [
      'non-numeric pid in brackets',
      '<14>Jun 15 10:00:00 h1 app[main]: started',
      { facility: 'user', severity: 'info', time: local(2024, 6, 15, 10, 0, 0), host: 'h1', app: 'app', msg: 'started' },
    ],
    [
      'trailing LF and NUL removed, UTF-8 kept',
      '<14>Jun 15 10:00:00 h1 app: grüße 日本\n\0',
      { facility: 'user', severity: 'info', time: local(2024, 6, 15, 10, 0, 0), host: 'h1', app: 'app', msg: 'grüße 日本' },
    ],
    [
      'tag with no space before the message',
      '<14>Jun 15 10:00:00 h1 app:compact',
      { facility: 'user', severity: 'info', time: local(2024, 6, 15, 10, 0, 0), host: 'h1', app: 'app', msg: 'compact' },
    ],
    [
      'empty message after the tag',
      '<14>Jun 15 10:00:00 h1 app:',
      { facility: 'user', severity: 'info', time: local(2024, 6, 15, 10, 0, 0), host: 'h1', app: 'app', msg: '' },
    ],
    [
      'time stamp only',
      '<14>Jun 15 10:00:00',
      { facility: 'user', severity: 'info', time: local(2024, 6, 15, 10, 0, 0), msg: '' },
    ],
    [
      'AMA forwarding template (<PRI>TIMESTAMP HOSTNAME syslogtag msg)',
      '<38>Jun 15 11:30:00 db02 CRON[4242]: (root) CMD (run-parts /etc/cron.hourly)',
      { facility: 'auth', severity: 'info', time: local(2024, 6, 15, 11, 30, 0), host: 'db02', app: 'CRON', pid: 4242, msg: '(root) CMD (run-parts /etc/cron.hourly)' },
    ],
    [
      'lower-case month name',
      '<14>jun 15 10:00:00 h1 app: x',
      { facility: 'user', severity: 'info', time: local(2024, 6, 15, 10, 0, 0), host: 'h1', app: 'app', msg: 'x' },
    ],
  ];
  it.each(cases)('%s', (_name, frame, expected) => {
    expect(parse(frame)).toEqual({ format: FORMAT_RFC3164, ...expected });
  });

  it('gives a time stamp without a year the year that puts it nearest to now', () => {
    // Dec 31 23:59 received on Jan 1 00:01: last year.
    const newYear = new Date(2025, 0, 1, 0, 1, 0).getTime();
    expect(parse('<14>Dec 31 23:59:00 h app: x', newYear).time).toBe(local(2024, 12, 31, 23, 59, 0));
    // Jan 1 00:00 received on Dec 31 23:59 (a sender's clock ahead): next year.
    const oldYear = new Date(2024, 11, 31, 23, 59, 0).getTime();
    expect(parse('<14>Jan  1 00:00:30 h app: x', oldYear).time).toBe(local(2025, 1, 1, 0, 0, 30));
    // Mid-year: this year.
    expect(parse('<14>Jul  1 00:00:00 h app: x', Date.UTC(2024, 5, 15)).time).toBe(local(2024, 7, 1, 0, 0, 0));
  });
});

describe('RFC 5424', () => {
  const cases: Array<[string, string | Buffer, Omit<Fields, 'format'>]> = [
    [
      'the RFC example with BOM',
      Buffer.concat([Buffer.from('<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - '), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("'su root' failed for lonvick on /dev/pts/8")]),
      { facility: 'auth', severity: 'crit', time: '2003-10-11T22:14:15.003Z', host: 'mymachine.example.com', app: 'su', msg: "'su root' failed for lonvick on /dev/pts/8" },
    ],
    [
      'offset and microseconds to UTC',
      '<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It\'s time to make the do-nuts.',
      { facility: 'local4', severity: 'notice', time: '2003-08-24T12:14:15.000Z', host: '192.0.2.1', app: 'myproc', pid: 8710, msg: "%% It's time to make the do-nuts." },
    ],
    [
      'structured data kept, then the message',
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry...',
      {
        facility: 'local4',
        severity: 'notice',
        time: '2003-10-11T22:14:15.003Z',
        host: 'mymachine.example.com',
        app: 'evntslog',
        sd: '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]',
        msg: 'An application event log entry...',
      },
    ],
    [
      'several SD elements, escapes, no message',
      '<165>1 2003-10-11T22:14:15.003Z host app - - [a@1 k="v\\"]x"][b@2 q="\\\\"]',
      { facility: 'local4', severity: 'notice', time: '2003-10-11T22:14:15.003Z', host: 'host', app: 'app', sd: '[a@1 k="v\\"]x"][b@2 q="\\\\"]', msg: '' },
    ],
    [
      'NILVALUE everywhere',
      '<13>1 - - - - - - hello',
      { facility: 'user', severity: 'notice', msg: 'hello' },
    ],
    [
      'non-numeric PROCID',
      '<14>1 2024-06-15T10:00:00+00:00 h app worker-1 M1 - started',
      { facility: 'user', severity: 'info', time: '2024-06-15T10:00:00.000Z', host: 'h', app: 'app', msg: 'started' },
    ],
    [
      'rsyslog RSYSLOG_SyslogProtocol23Format',
      '<86>1 2024-06-15T10:00:00.123456+00:00 web01 sshd 2741 - - Accepted publickey for deploy\n',
      { facility: 'authpriv', severity: 'info', time: '2024-06-15T10:00:00.123Z', host: 'web01', app: 'sshd', pid: 2741, msg: 'Accepted publickey for deploy' },
    ],
    [
      "syslog-ng's syslog() destination: [meta sequenceId] and a LF inside the frame",
      '<157>1 2024-06-15T12:00:00+02:00 web01 omatest - - [meta sequenceId="17"] ng-0\n',
      { facility: 'local3', severity: 'notice', time: '2024-06-15T10:00:00.000Z', host: 'web01', app: 'omatest', sd: '[meta sequenceId="17"]', msg: 'ng-0' },
    ],
    [
      'syslog-ng with CR LF and an empty message',
      '<157>1 2024-06-15T12:00:00.5+02:00 web01 omatest 42 - [meta sequenceId="18"]\r\n',
      { facility: 'local3', severity: 'notice', time: '2024-06-15T10:00:00.500Z', host: 'web01', app: 'omatest', pid: 42, sd: '[meta sequenceId="18"]', msg: '' },
    ],
  ];
  it.each(cases)('%s', (_name, frame, expected) => {
    expect(parse(frame)).toEqual({ format: FORMAT_RFC5424, ...expected });
  });
});

describe('what fits neither', () => {
  const cases: Array<[string, string | Buffer, Fields]> = [
    ['no PRI: user.notice, the whole frame', 'just a line of text', { format: FORMAT_UNPARSED, facility: 'user', severity: 'notice', msg: 'just a line of text' }],
    ['PRI without a time stamp: its facility and level', '<11>no header at all', { format: FORMAT_UNPARSED, facility: 'user', severity: 'err', msg: 'no header at all' }],
    ['PRI out of range', '<192>Jun 15 10:00:00 h app: x', { format: FORMAT_UNPARSED, facility: 'user', severity: 'notice', msg: '<192>Jun 15 10:00:00 h app: x' }],
    ['a broken 5424 header', '<14>1 2024-06-15T10:00:00Z host', { format: FORMAT_UNPARSED, facility: 'user', severity: 'info', msg: '1 2024-06-15T10:00:00Z host' }],
    ['5424 with malformed structured data', '<14>1 - h a - - [bad', { format: FORMAT_UNPARSED, facility: 'user', severity: 'info', msg: '1 - h a - - [bad' }],
    ['an impossible date', '<14>Jun 45 10:00:00 h app: x', { format: FORMAT_UNPARSED, facility: 'user', severity: 'info', msg: 'Jun 45 10:00:00 h app: x' }],
    ['a truncated time', '<14>Jun 15 10:0', { format: FORMAT_UNPARSED, facility: 'user', severity: 'info', msg: 'Jun 15 10:0' }],
    ['an unclosed PRI', '<14 Jun 15 10:00:00 h app: x', { format: FORMAT_UNPARSED, facility: 'user', severity: 'notice', msg: '<14 Jun 15 10:00:00 h app: x' }],
    ['a little invalid UTF-8 is kept (replaced when encoded)', Buffer.from([0x3c, 0x31, 0x34, 0x3e, 0x61, 0xff, 0x62, 0x63, 0x64]), { format: FORMAT_UNPARSED, facility: 'user', severity: 'info', msg: 'a\ufffdbcd' }],
  ];
  it.each(cases)('%s', (_name, frame, expected) => {
    expect(parse(frame)).toEqual(expected);
  });

  it('drops empty frames and binary noise', () => {
    expect(parse('').format).toBe(DROP_EMPTY);
    expect(parse('\n\r\0\0').format).toBe(DROP_EMPTY);
    expect(parse(Buffer.from([0x3c, 0x31, 0x34, 0x3e, 0, 0, 0, 0, 0x41, 0, 0, 0])).format).toBe(DROP_BINARY);
    expect(parse(Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc])).format).toBe(DROP_BINARY);
    expect(parse(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 0x41, 0x42])).format).toBe(DROP_BINARY);
  });
});

describe('facility and level filters', () => {
  it('select exactly the listed names, or all with *', () => {
    expect(facilityMask(['*'])).toBe(0xffffff);
    expect(facilityMask(['kern', 'local7'])).toBe((1 << 0) | (1 << 23));
    expect(facilityMask(['mark'])).toBe(0);
    expect(levelMask(['*'])).toBe(0xff);
    // Warning and above, as the portal writes a minimum level of Warning.
    expect(levelMask(['Warning', 'Error', 'Critical', 'Alert', 'Emergency'])).toBe(0b11111);
    expect(levelMask(['Debug'])).toBe(1 << 7);
  });
});
