import { StoredEvent } from '@truceline/domain';
import { CommandCause } from './command-envelope';

/**
 * The cause a service's command carries: the event it reacts to, whose correlation and trace
 * (e.g. from a Kafka message's traceparent header) its effects continue.
 */
export const causeOf = (event: Pick<StoredEvent, 'id' | 'metadata'>): CommandCause => ({
  id: event.id,
  correlationId: event.metadata.correlationId,
  ...(event.metadata.traceparent !== undefined && { traceparent: event.metadata.traceparent }),
});
