export * from './incident-spec';
export * from './scenario';
