export * from './events/events';
export * from './events/envelope';
export * from './errors/errors';
export * from './policy/policy';
export * from './incident/commands';
