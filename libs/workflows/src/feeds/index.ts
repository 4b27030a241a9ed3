export * from './acknowledge-notice';
export * from './partner-feeds';
