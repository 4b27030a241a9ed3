export * from './incident-spec';
