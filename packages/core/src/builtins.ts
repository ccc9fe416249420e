import type { ComponentDefinition } from './pipeline/component.js';
import { filterProcessor } from './processors/filter/index.js';
import { customLogSource } from './sources/custom_log/index.js';
import { heartbeatSource } from './sources/heartbeat/index.js';
import { iisLogSource } from './sources/iis_log/index.js';
import { azureLogsIngestionSink } from './sinks/azure_logs_ingestion/index.js';
import { azureDataCollectorSink } from './sinks/azure_data_collector/index.js';

/** Component types core provides on every platform. */
export function coreComponents(): ComponentDefinition[] {
  return [heartbeatSource, customLogSource, iisLogSource, filterProcessor, azureLogsIngestionSink, azureDataCollectorSink];
}
