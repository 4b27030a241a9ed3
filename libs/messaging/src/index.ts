export * from './cloud-event';
export * from './kafka-client';
export * from './relay-lease';
export * from './leased-publisher';
export * from './relay';
export * from './consumer';
export * from './observability';
export * from './feed-relay';
export { useOnePassProduceEncoding } from './produce-encoding';
