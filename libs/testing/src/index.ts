export * from './incident-spec';
export * from './postgres';
export * from './generated-history';
export * from './append-in-order';
export * from './hold-connection';
export * from './kafka-consumer';
export * from './prepared-plans';
export * from './policy-store';
