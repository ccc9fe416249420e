export { azureLogsIngestionSink, AzureLogsIngestionSink } from './sink.js';
export {
  azureLogsIngestionConfigSchema,
  MAX_REQUEST_JSON_BYTES,
  MAX_REQUEST_WIRE_BYTES,
  type AzureLogsIngestionConfig,
} from './config.js';
export { streamForTable } from './streams.js';
