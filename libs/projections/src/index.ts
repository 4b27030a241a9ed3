export * from './incident-view';
