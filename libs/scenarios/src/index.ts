export * from './scenario';
export * from './scenario-time';
export * from './placeholders';
export * from './expectations';
export * from './scenario-http';
export * from './scenario-report';
export * from './scenario-result';
export * from './run-scenario';
