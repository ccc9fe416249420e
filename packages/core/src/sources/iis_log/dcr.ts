import type { DcrSourceMapping } from '../../config/dcr/source-mapping.js';

/**
 * A DCR `iisLogs` data source as an `iis_log` source: `logDirectories` when the rule names them (else
 * the default site folders); the stream is Microsoft-W3CIISLog.
 */
export const iisLogDcr: DcrSourceMapping = {
  kind: 'iisLogs',
  streams: ['Microsoft-W3CIISLog'],
  keys: ['name', 'streams', 'logDirectories'],
  fromDcr(r) {
    const d = r.stringList('logDirectories', false);
    if (d !== undefined) r.set('logDirectories', d, ['logDirectories']);
  },
};
