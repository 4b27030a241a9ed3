export * from './incident-spec';
export * from './postgres';
