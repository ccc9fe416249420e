import { z } from 'zod';
import { LEVEL_NAMES, MAX_XPATH_QUERIES, parseXPathQuery } from './query.js';

/** Tables the source writes. */
export const EVENT_LOG_TABLES = ['Event', 'WindowsEvent'] as const;

const channelSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .refine((s) => !/[!<>]/.test(s), 'a channel name holds no !, < or >')
      .describe('Channel to read, by its full name (Event Viewer, Properties, Full Name): Application, Microsoft-Windows-Sysmon/Operational.'),
    levels: z
      .array(z.enum(LEVEL_NAMES as [string, ...string[]]))
      .min(1)
      .optional()
      .describe('Levels read (Critical, Error, Warning, Information, Verbose; Information includes LogAlways, level 0); all when omitted.'),
    eventIds: z
      .array(z.number().int().min(0).max(65535))
      .min(1)
      .optional()
      .describe('Event ids read; all when omitted.'),
  })
  .describe('A channel read the MMA way: levels and event ids, turned into an XPath query.');

export const windowsEventLogConfigSchema = z
  .strictObject({
    xPathQueries: z
      .array(z.string())
      .min(1)
      .max(MAX_XPATH_QUERIES, `at most ${MAX_XPATH_QUERIES} XPath queries (the data collection rule's limit)`)
      .optional()
      .describe('Events to read, as a data collection rule writes them: "<Channel>!<XPath>", e.g. "System!*[System[(Level=1 or Level=2)]]".'),
    channels: z.array(channelSchema).min(1).optional().describe('Channels to read with level and event id filters (MMA style); read besides xPathQueries.'),
    table: z.enum(EVENT_LOG_TABLES).default('Event').describe('Table the events go to: Event (as MMA) or WindowsEvent (as AMA with the Microsoft-WindowsEvent stream).'),
    renderMessages: z
      .boolean()
      .default(true)
      .describe('Format each event\'s message text (RenderedDescription); off saves the publisher lookups when only the event data matters.'),
    batchSize: z.number().int().min(1).max(10_000).default(500).describe('Most events read per call and per emitted batch, per channel.'),
    startAt: z
      .enum(['future', 'oldest'])
      .default('future')
      .describe('Where a channel with no saved bookmark starts: events written from now on (future, as MMA did) or every event it holds (oldest).'),
  })
  .superRefine((c, ctx) => {
    if (c.xPathQueries === undefined && c.channels === undefined) {
      ctx.addIssue({ code: 'custom', message: 'set xPathQueries or channels (or both)', path: ['xPathQueries'] });
    }
    c.xPathQueries?.forEach((q, i) => {
      const parsed = parseXPathQuery(q);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed, path: ['xPathQueries', i] });
    });
  });

export type WindowsEventLogConfig = z.output<typeof windowsEventLogConfigSchema>;
export type EventLogChannelConfig = z.output<typeof channelSchema>;
