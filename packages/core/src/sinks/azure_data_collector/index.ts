export { azureDataCollectorSink, AzureDataCollectorSink } from './sink.js';
export {
  azureDataCollectorConfigSchema,
  dataCollectorBaseUrl,
  logTypeForTable,
  DATA_COLLECTOR_API_VERSION,
  DATA_COLLECTOR_HOSTS,
  MAX_POST_BYTES as DATA_COLLECTOR_MAX_POST_BYTES,
  type AzureDataCollectorConfig,
  type DataCollectorCloud,
} from './config.js';
export { sharedKeyAuthorization } from './signature.js';
