export * from './cloud-event';
export * from './kafka-client';
export * from './consumer';
export * from './observability';
