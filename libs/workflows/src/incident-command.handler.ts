import { randomUUID } from 'node:crypto';
import {
  Actor,
  ConcurrencyError,
  decideIncident,
  decodeIncidentFacts,
  EventMetadata,
  evolveIncident,
  IllegalStateError,
  IncidentCommand,
  incidentStreamId,
  IncidentState,
  initialIncidentState,
  NewEvent,
  NotFoundError,
  POLICY_STREAM,
  SCHEMA_VERSION,
  SectorConfirmation,
  StoredEvent,
} from '@truceline/domain';
import { AppendResult, deterministicId, EventStore } from '@truceline/event-store';
import { childTraceparent } from '@truceline/messaging';
import { IncidentViews, PolicyRegistry } from '@truceline/projections';
import { Clock } from './runtime.port';
import { CommandEnvelope } from './command-envelope';
import { verificationRequestWith, VERIFICATION_REQUESTED_WITH } from './verification.request';

export interface LoadedIncident {
  state: IncidentState;
  events: StoredEvent[];
}

export type { CommandCause, CommandEnvelope } from './command-envelope';

export interface ConflictRetry {
  /** Attempts in all, the first included: the one limit of every writer of an incident stream. */
  attempts: number;
  /** Delay before the second attempt; doubles with every further conflict, up to maxMs. */
  baseMs: number;
  maxMs: number;
}

/**
 * Sized for the worst contention the system makes itself: a delivery worker recording some 30
 * deliveries of one incident at once, each a writer of the same stream.
 */
export const COMMAND_RETRY: ConflictRetry = { attempts: 20, baseMs: 10, maxMs: 2_000 };

/**
 * Full jitter over an exponential ceiling: writers that collided once pick different moments,
 * instead of colliding again in lockstep.
 */
export const conflictDelayMs = (
  attempt: number,
  policy: ConflictRetry,
  random: () => number = Math.random,
): number => Math.round(random() * Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1)));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The one write path of an incident stream (Emmett's handleCommand): read the stream, fold
 * evolve, decide, append with the expected revision; on a conflict, back off and decide again
 * on the fresh state. HTTP commands, the services' system commands, receipts and delivery
 * records all come through here, so every invariant is the decider's.
 */
export class IncidentCommandHandler {
  constructor(
    private readonly store: EventStore,
    private readonly policies: PolicyRegistry,
    private readonly clock: Clock,
    private readonly views: IncidentViews,
    private readonly retry: ConflictRetry = COMMAND_RETRY,
  ) {}

  async load(incidentId: string, options: { unborn?: boolean } = {}): Promise<LoadedIncident> {
    const events = options.unborn ? [] : await this.store.readStream(incidentStreamId(incidentId));
    // A version adopted through another process and recorded on this stream since is read
    // before the fold looks it up. Whether the policy deciding a command is still the latest
    // is checked by its append (see handle), not by a read of the policy stream here.
    if (events.some((e) => !this.policies.has(e.metadata.policyVersion)))
      await this.policies.refresh();
    const state = decodeIncidentFacts(events).reduce(
      (s, fact) => evolveIncident(s, fact, this.policies.of),
      initialIncidentState(),
    );
    return { state, events };
  }

  /**
   * Runs one command. Returns what was appended (a repeat of a known event id returns the
   * original), or null when decide found nothing to do. Refusals throw the decider's errors.
   */
  async handle(
    incidentId: string,
    command: IncidentCommand,
    envelope: CommandEnvelope,
  ): Promise<AppendResult | null> {
    for (let attempt = 1; ; attempt++) {
      const { state, events: history } = await this.load(incidentId, {
        unborn: attempt === 1 && envelope.newIncident === true,
      });
      const known = envelope.eventId && history.find((e) => e.id === envelope.eventId);
      if (known) return repeated(known, history);
      if (
        envelope.expectedRevision !== undefined &&
        state.status !== 'none' &&
        envelope.expectedRevision !== state.revision
      )
        throw new ConcurrencyError(
          incidentStreamId(incidentId),
          envelope.expectedRevision,
          state.revision,
        );
      // The policy stream as this process holds it, taken before deciding: a policy adopted
      // through another process governs what this one appends next (SPEC §3), so the append
      // goes only if no adoption has been stored since; else the registry reads the new one
      // and the command is decided again. (Every command read the policy stream before
      // deciding: a statement and a round trip on the path of each.)
      const guard = { streamId: POLICY_STREAM, revision: this.policies.heldRevision() };
      const decided = await this.decide(command, state, envelope);
      if (decided.length === 0) return null;
      const events = [...decided, ...(await this.decidedWith(incidentId, state, decided))];
      try {
        return await this.store.append(incidentStreamId(incidentId), events, {
          expectedRevision: envelope.expectedRevision ?? state.revision ?? 'no-stream',
          guard,
        });
      } catch (error) {
        if (
          error instanceof ConcurrencyError &&
          error.streamId === POLICY_STREAM &&
          attempt < this.retry.attempts
        ) {
          await this.policies.refresh();
          continue;
        }
        // With If-Match the client asked for exactly that revision: a conflict is theirs (412).
        const retryable =
          error instanceof ConcurrencyError &&
          envelope.expectedRevision === undefined &&
          attempt < this.retry.attempts;
        if (!retryable) throw error;
        await sleep(conflictDelayMs(attempt, this.retry));
      }
    }
  }

  /**
   * A service's system command: a refusal (the incident is gone, resolved, or past the point the
   * cause called for) is an expected outcome, returned as null; only transient failures throw.
   */
  async react(
    incidentId: string,
    command: IncidentCommand,
    envelope: CommandEnvelope,
  ): Promise<AppendResult | null> {
    try {
      return await this.handle(incidentId, command, envelope);
    } catch (error) {
      if (error instanceof IllegalStateError || error instanceof NotFoundError) return null;
      throw error;
    }
  }

  /**
   * The reactions decided with a command, in its append, instead of by a service once the
   * command's events come back through the log: those every such event calls for, whatever
   * else happens. A report's verification request (SPEC §5) is one: the verification service's
   * rule, decided here as the service would (its actor, the report as its cause, the same id),
   * so a report costs one append, not a second command through the log. A redelivered report
   * finds the request there, and the rule asks for it once per incident.
   */
  private async decidedWith(
    incidentId: string,
    state: IncidentState,
    decided: NewEvent[],
  ): Promise<NewEvent[]> {
    const report = decided.find((e) => VERIFICATION_REQUESTED_WITH.has(e.type));
    if (!report) return [];
    const streamId = incidentStreamId(incidentId);
    const recordedAt = this.clock.now().toISOString();
    let revision = state.revision ?? -1;
    // Each envelope written out rather than spread from the new event: a spread followed by
    // keys its source lacks takes V8's slow path, ~1% of the main thread under a load of POSTs.
    const after = decodeIncidentFacts(
      decided.map((e): StoredEvent => ({
        id: e.id,
        type: e.type,
        schemaVersion: SCHEMA_VERSION,
        streamId,
        revision: ++revision,
        position: 0,
        occurredAt: e.occurredAt,
        recordedAt,
        data: e.data,
        metadata: e.metadata,
      })),
    ).reduce((s, fact) => evolveIncident(s, fact, this.policies.of), state);
    return verificationRequestWith(report, after, (command, at, envelope) =>
      this.decide(command, at, envelope),
    );
  }

  private async decide(
    command: IncidentCommand,
    state: IncidentState,
    envelope: CommandEnvelope,
  ): Promise<NewEvent[]> {
    const policy = this.policies.current();
    const decideWith = (sectorConfirmations: SectorConfirmation[]) =>
      decideIncident(command, state, {
        actor: envelope.actor,
        policy,
        occurredAt: envelope.occurredAt,
        sectorConfirmations,
        idOf: deterministicId,
      });
    let decided = decideWith([]);
    // The sector's other confirmations only shape a confirmation (repeated violation, SPEC §3):
    // they are read, and decide asked again (it is pure), only when it decided one — not for
    // every Verify, most of which only request verification or record a finding.
    if (state.firstViolationAt && decided.some((e) => e.type === 'BreachConfirmed')) {
      decided = decideWith(
        await this.views.sectorConfirmations(
          state.sector,
          state.firstViolationAt,
          policy.repeatedViolation.windowHours,
        ),
      );
    }
    const base = envelope.eventId ?? randomUUID();
    const ids = decided.map((e, i) => e.id ?? (i === 0 ? base : deterministicId(base, String(i))));
    const { cause } = envelope;
    const correlationId = envelope.correlationId ?? cause?.correlationId ?? ids[0];
    return decided.map(({ id: _id, occurredAt, ...event }, i) => {
      const traceparent = childTraceparent(cause?.traceparent ?? envelope.traceparent, ids[i]);
      return {
        id: ids[i],
        type: event.type,
        occurredAt: occurredAt ?? envelope.occurredAt,
        data: event.data,
        metadata: {
          ...this.metadata(envelope.actor, correlationId, cause?.id ?? null),
          ...(traceparent !== undefined && { traceparent }),
        },
      };
    });
  }

  /** The metadata every event of this process carries: policy in force, exercise mode. */
  metadata(actor: Actor, correlationId: string, causationId: string | null): EventMetadata {
    return {
      correlationId,
      causationId,
      actor,
      policyVersion: this.policies.current().version,
      ...(this.clock.mode === 'exercise' ? { exercise: true } : {}),
    };
  }
}

/**
 * The answer to a command whose event is already stored: the original, appended nothing. The
 * events stored by the same append follow it (the reactions decided with it, see decidedWith):
 * the next revisions at the next positions, with the same recordedAt.
 */
const repeated = (event: StoredEvent, history: readonly StoredEvent[]): AppendResult => {
  const events = [event];
  for (let i = history.indexOf(event) + 1; i < history.length; i++) {
    const last = events[events.length - 1];
    const next = history[i];
    if (
      next.revision !== last.revision + 1 ||
      next.position !== last.position + 1 ||
      next.recordedAt !== event.recordedAt
    )
      break;
    events.push(next);
  }
  const last = events[events.length - 1];
  return {
    streamId: event.streamId,
    nextExpectedRevision: last.revision,
    position: last.position,
    events,
    duplicate: true,
  };
};
