export * from './incident-view';
export * from './policy.registry';
export * from './incident.projection';
export * from './incident.queries';
export * from './feed.projection';
export * from './feed.queries';
export * from './audit/incident-audit';
export * from './audit/event-summary';
