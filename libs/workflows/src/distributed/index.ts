export * from './service-context';
export * from './service-process';
