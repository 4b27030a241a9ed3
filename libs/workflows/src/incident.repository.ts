import {
  Actor,
  ConcurrencyError,
  EventMetadata,
  evolveIncident,
  IncidentEvent,
  decodeIncidentFacts,
  incidentStreamId,
  IncidentState,
  initialIncidentState,
  NewEvent,
  StoredEvent,
} from '@truceline/domain';
import { AppendResult, EventStore } from '@truceline/event-store';
import { childTraceparent } from '@truceline/messaging';
import { PolicyRegistry } from '@truceline/projections';
import { Clock } from './runtime.port';

export interface LoadedIncident {
  state: IncidentState;
  events: StoredEvent[];
}

/** A reaction to append: the event, its deterministic id and the occurredAt it carries. */
export interface Reaction {
  id: string;
  occurredAt: string;
  event: IncidentEvent;
}

const MAX_ATTEMPTS = 20;

/**
 * The incident stream's command path: read the stream, fold evolve, decide, append with the
 * expected revision; on a concurrency conflict read and decide again.
 */
export class IncidentRepository {
  constructor(
    private readonly store: EventStore,
    private readonly policies: PolicyRegistry,
    private readonly clock: Clock,
  ) {}

  async load(incidentId: string): Promise<LoadedIncident> {
    // A policy adopted through another process governs what this one appends next (SPEC §3).
    await this.policies.refresh();
    const events = await this.store.readStream(incidentStreamId(incidentId));
    const state = decodeIncidentFacts(events).reduce(
      (s, fact) => evolveIncident(s, fact, this.policies.of),
      initialIncidentState(),
    );
    return { state, events };
  }

  metadata(actor: Actor, correlationId: string, causationId: string | null): EventMetadata {
    return {
      correlationId,
      causationId,
      actor,
      policyVersion: this.policies.current().version,
      ...(this.clock.mode === 'exercise' ? { exercise: true } : {}),
    };
  }

  append(
    incidentId: string,
    state: IncidentState,
    events: NewEvent[],
    expectedRevision?: number,
  ): Promise<AppendResult> {
    return this.store.append(incidentStreamId(incidentId), events, {
      expectedRevision: expectedRevision ?? state.revision ?? 'no-stream',
    });
  }

  /**
   * Runs a service's reaction: `compute` sees the freshly folded state and returns what to
   * append. Reaction ids are deterministic, so a redelivered cause, a restart or a second
   * instance can never append an effect twice (the store treats a known id as a no-op).
   * A traced cause (metadata.traceparent, e.g. from a Kafka message's header) passes its trace
   * on: each reaction's traceparent is a child span named after the reaction's id.
   */
  async react(
    incidentId: string,
    cause: Pick<StoredEvent, 'id' | 'metadata'> | null,
    actor: Actor,
    compute: (state: IncidentState) => Reaction[] | Promise<Reaction[]>,
  ): Promise<AppendResult | null> {
    for (let attempt = 1; ; attempt++) {
      const { state } = await this.load(incidentId);
      if (state.status === 'none') return null;
      const reactions = await compute(state);
      if (reactions.length === 0) return null;
      const correlationId = cause?.metadata.correlationId ?? reactions[0].id;
      const events: NewEvent[] = reactions.map((r) => {
        const traceparent = childTraceparent(cause?.metadata.traceparent, r.id);
        return {
          id: r.id,
          type: r.event.type,
          occurredAt: r.occurredAt,
          data: r.event.data,
          metadata: {
            ...this.metadata(actor, correlationId, cause?.id ?? null),
            ...(traceparent !== undefined && { traceparent }),
          },
        };
      });
      try {
        return await this.append(incidentId, state, events);
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }
}
