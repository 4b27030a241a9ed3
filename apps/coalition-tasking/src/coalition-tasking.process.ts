import { CoalitionTaskingService, ServiceDefinition } from '@truceline/workflows';

/**
 * Coalition tasking as its own process (SPEC §5): tasks the coalition at tier 2 and the
 * Western-backed force at tier 3, fed by truceline.events.v1 in group truceline.coalition-tasking.
 */
export const COALITION_TASKING_PROCESS: ServiceDefinition = {
  name: 'coalition-tasking',
  defaultMetricsPort: 9466,
  create: ({ incidents }) => {
    const service = new CoalitionTaskingService(incidents);
    return { handle: (event) => service.handle(event) };
  },
};
