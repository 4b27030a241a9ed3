export * from './consumer-ledger';
export * from './consumer-metrics';
export * from './event-consumer';
