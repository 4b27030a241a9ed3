import { FEEDS } from './feed.projection';
import { INCIDENTS } from './incident.projection';
import { ProjectionDefinition } from './projection';

/** Every projection, in the order a runner starts them (and the coming replay rebuilds them). */
export const PROJECTIONS: readonly ProjectionDefinition[] = [INCIDENTS, FEEDS];
