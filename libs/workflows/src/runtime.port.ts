import { Actor, EscalationPolicyDocument, IncidentCommand, StoredEvent } from '@truceline/domain';
import { EventStore } from '@truceline/event-store';
import type { CheckpointView, EventsProof } from '@truceline/ledger';
import {
  AdoptedPolicy,
  AuditOptions,
  FeedEntry,
  IncidentAudit,
  IncidentListFilter,
  IncidentPage,
  IncidentView,
} from '@truceline/projections';

/** A partner's feed entry (SPEC §7), as the feed projection stores it. */
export type { FeedEntry };

/** The one clock every process follows (SPEC §2): system time or the exercise clock. */
export interface Clock {
  readonly mode: 'system' | 'exercise';
  now(): Date;
  /** Exercise mode only: move forward (moving back → IllegalStateError 'clock-backwards'). */
  advance(to: Date): Promise<Date>;
}

export interface CommandContext {
  actor: Actor;
  /** From the body; defaults to the clock's now. More than 5 min in the future → ValidationError. */
  occurredAt?: string;
  /** `Idempotency-Key` header: a retry with the same key returns the first result, appends nothing. */
  idempotencyKey?: string;
  /** `If-Match: "<revision>"`: stale → ConcurrencyError (412). */
  expectedRevision?: number;
  correlationId?: string;
  /** The caller's W3C `traceparent`: the stored events (and their Kafka messages) continue it. */
  traceparent?: string;
}

/** 201 body of every command (SPEC §6). */
export interface CommandResult {
  incidentId: string;
  eventId: string;
  revision: number;
  position: number;
}

export interface IncidentCommands {
  /**
   * Runs one command. `incidentId` is null for ReportBreach (a new incident).
   * Throws TrucelineError subclasses: ValidationError 400, ForbiddenError 403,
   * NotFoundError 404, IllegalStateError 409, ConcurrencyError 412,
   * TrucelineError('idempotency-conflict') 422 when a key is reused for another request.
   */
  execute(
    incidentId: string | null,
    command: IncidentCommand,
    context: CommandContext,
  ): Promise<CommandResult>;
}

export interface IncidentQueries {
  get(incidentId: string): Promise<IncidentView | null>;
  list(filter: IncidentListFilter): Promise<IncidentPage>;
  /** The raw stream; null when the incident does not exist. */
  events(incidentId: string): Promise<StoredEvent[] | null>;
  /**
   * The audit trail as it could be known at `asOf` (default: the clock's now), SPEC §6; null
   * when nothing of the incident had been recorded by then.
   */
  audit(
    incidentId: string,
    options: { asOf?: Date; viewer?: AuditOptions['viewer'] },
  ): Promise<IncidentAudit | null>;
}

/** The partner feeds behind GET /v1/feed, GET /v1/feed/stream and receipts (SPEC §6). */
export interface FeedPort {
  /** Entries with `seq` > `after`, in seq order, at most `limit`. */
  page(partner: string, after: number, limit: number): Promise<FeedEntry[]>;
  /** One entry of the partner's feed by event id; null when it is not in that feed. */
  entry(partner: string, eventId: string): Promise<FeedEntry | null>;
  /** The partner's last seq (0 when its feed is empty). */
  head(partner: string): Promise<number>;
  /** Records NoticeAcknowledged once per partner and event; a repeat returns the first result. */
  acknowledge(partner: string, eventId: string, actor: Actor): Promise<CommandResult>;
  /** Called after feed entries may have been added; returns the unsubscribe function. */
  onAppended(listener: () => void): () => void;
}

/** The tamper-evident log (SPEC §10): signed checkpoints and proofs. */
export interface LedgerPort {
  /** The log's public key in C2SP vkey form. */
  readonly verifierKey: string;
  /** The latest signed checkpoint covering every event committed so far (signed on demand). */
  latest(): Promise<CheckpointView | null>;
  /**
   * The latest signed checkpoint covering every event up to `position` — for an audit, the
   * highest position among the events it lists; signed on demand when none covers it yet.
   * Null when nothing is committed at that position.
   */
  covering(position: number): Promise<CheckpointView | null>;
  /** RFC 9162 consistency proof (base64); ValidationError for sizes the log has not sealed. */
  consistency(from: number, to: number): Promise<string[]>;
  /**
   * Inclusion proofs of `events` against the checkpoint of `treeSize` (default: the latest
   * covering them all); ValidationError when no checkpoint has that size.
   */
  prove(events: StoredEvent[], treeSize?: number): Promise<EventsProof | null>;
}

/** The escalation policy versions behind POST and GET /v1/policies (SPEC §3). */
export interface PolicyPort {
  /** Every adopted version, oldest first, with when and by whom. */
  list(): Promise<AdoptedPolicy[]>;
  /**
   * Adopts a validated document as version n+1, recorded now by `actor`. With an
   * `idempotencyKey`, a retry returns the first adoption and adopts nothing (as commands do).
   */
  adopt(
    document: EscalationPolicyDocument,
    context: { actor: Actor; correlationId?: string; idempotencyKey?: string },
  ): Promise<AdoptedPolicy>;
}

/** Everything an app's edge needs, built once at boot by the composition root. */
export interface DependencyStatus {
  status: 'up' | 'down';
  /** Why it is down, for the operator reading the readiness body. */
  message?: string;
}
export type DependencyHealth = Record<string, DependencyStatus>;

export interface Runtime {
  clock: Clock;
  store: EventStore;
  commands: IncidentCommands;
  queries: IncidentQueries;
  policies: PolicyPort;
  /** Absent where the runtime serves no partner feeds (the API answers 503). */
  feeds?: FeedPort;
  /** Absent where the runtime does not seal the log (the API answers 503). */
  ledger?: LedgerPort;
  /**
   * Each dependency the API needs to serve, by name: `database` (the store answers) and
   * `projections` (caught up with the log at least once). Ready when every one is up.
   */
  health(): Promise<DependencyHealth>;
  close(): Promise<void>;
}
