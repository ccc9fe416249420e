export * from './service-port.js';
export { ERROR_CALL_NOT_IMPLEMENTED, ERROR_SERVICE_SPECIFIC_ERROR, runServiceHost, type ServiceHostOptions, type ServiceProgram, type ServiceProgramIo } from './service-host.js';
export { createEventLogWriter, createEventSourceRegistry, createServiceControlManager, createServiceDispatcher, statusStruct } from './scm.js';
export { EventLogStream, eventMessage, OMA_EVENT_IDS, OMA_EVENT_SOURCE, type EventLogStreamOptions } from './event-log-stream.js';
export { FakeEventLogWriter, FakeEventSourceRegistry, FakeServiceControlManager, FakeServiceDispatcher } from './fake.js';
