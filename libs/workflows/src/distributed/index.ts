export * from './service-context';
export * from './service-process';
export * from './process-main';
