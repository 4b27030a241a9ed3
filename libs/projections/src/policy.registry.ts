import {
  Actor,
  ConcurrencyError,
  EscalationPolicy,
  EscalationPolicyDocument,
  NewEvent,
  POLICY_ADOPTED,
  POLICY_STREAM,
  POLICY_V1,
  policyAdoptedData,
  policyOfAdoption,
  StoredEvent,
  UnknownPolicyVersionError,
} from '@truceline/domain';
import { deterministicId, EventStore } from '@truceline/event-store';
import { randomUUID } from 'node:crypto';

/** One adopted version as GET /v1/policies lists it (SPEC §3). */
export interface AdoptedPolicy {
  version: number;
  /** When the adoption was recorded (the store's clock: the exercise clock in a drill). */
  adoptedAt: string;
  adoptedBy: Actor;
  eventId: string;
  policy: EscalationPolicy;
}

/** Concurrent adoptions serialise on the stream's revision; each retry takes the next version. */
const MAX_ADOPT_ATTEMPTS = 10;

/**
 * The escalation policies adopted on `policy-escalation` (SPEC §3), by version. Version 1 is
 * adopted at first start with a deterministic event id, so concurrent first starts of several
 * processes adopt it once. Replays look rules up by the version recorded in each event, and a
 * version the registry does not hold is an error, never another version's rules.
 */
export class PolicyRegistry {
  private readonly versions = new Map<number, AdoptedPolicy>();
  /** Revision of the last adoption read from the stream (-1 before any). */
  private revision = -1;
  /** The read in flight, and the one that waits to start after it (see refresh). */
  private reading: Promise<void> | null = null;
  private nextRead: Promise<void> | null = null;
  /** Told of every adoption as the store commits it (see the constructor). */
  private readonly told: boolean;
  /** Told, and the stream read once since: every adoption is held, and refresh reads nothing. */
  private whole = false;

  /**
   * `exercise`: the process runs on the exercise clock, so a policy it adopts is drill data and
   * marked as such (SPEC §2), as every other event it appends.
   */
  constructor(
    private readonly store: EventStore,
    private readonly options: { exercise?: boolean } = {},
  ) {
    // A store that is the one writer of its log (embedded) tells of each adoption as it
    // commits: once the stream has been read, what another process could have adopted is
    // nothing, and commands need not read it (a read per command's turn on the one connection).
    this.told =
      store.onCommitted?.((events) => {
        for (const event of events) this.apply(event);
      }) !== undefined;
  }

  async load(): Promise<void> {
    await this.refresh();
    if (this.versions.size > 0) return;
    const id = deterministicId('policy-escalation', 'v1');
    const adopted: NewEvent = {
      id,
      type: POLICY_ADOPTED,
      occurredAt: new Date(0).toISOString(),
      data: policyAdoptedData(POLICY_V1),
      metadata: {
        correlationId: id,
        causationId: null,
        actor: { id: 'truceline', role: 'service' },
        policyVersion: POLICY_V1.version,
        ...(this.options.exercise ? { exercise: true } : {}),
      },
    };
    // 'no-stream' races with another process's first start: whoever loses reads the winner's.
    await this.store
      .append(POLICY_STREAM, [adopted], { expectedRevision: 'no-stream' })
      .catch((error: unknown) => {
        if (!(error instanceof ConcurrencyError)) throw error;
      });
    await this.refresh();
  }

  /**
   * Reads adoptions this registry has not seen yet: another process may have adopted one. A
   * command calls it when its append found the policy stream moved since its decision (see
   * heldRevision), or when an incident's stream holds a version this registry lacks, so under a
   * burst of such commands callers share reads: one arriving while a read is in flight (begun
   * before it, so perhaps before an adoption it must see) waits for that read and for one more
   * begun after it, which every caller arriving meanwhile shares. So each caller still sees
   * every adoption committed before it called, and one read is in flight at a time.
   */
  refresh(): Promise<void> {
    if (this.whole) return Promise.resolve();
    if (this.nextRead) return this.nextRead;
    const inFlight = this.reading;
    if (!inFlight) return this.read();
    const next = inFlight
      .catch(() => undefined)
      .then(() => {
        this.nextRead = null;
        return this.read();
      });
    this.nextRead = next;
    return next;
  }

  private read(): Promise<void> {
    const read = this.store
      .readStream(POLICY_STREAM, { fromRevision: this.revision + 1 })
      .then((events) => {
        events.forEach((e) => this.apply(e));
        if (this.told) this.whole = true;
      })
      .finally(() => {
        if (this.reading === read) this.reading = null;
      });
    this.reading = read;
    return read;
  }

  /**
   * The revision of the policy stream this registry holds every adoption up to (-1 before
   * any): adoptions reach it in the log's order, so it holds each one below. A command decided
   * with current() appends guarded by it (AppendOptions.guard), and refreshes only when the
   * store answers that the stream moved.
   */
  heldRevision(): number {
    return this.revision;
  }

  /** Keeps the registry current when a new version is adopted while running. */
  apply(event: StoredEvent): void {
    if (event.streamId !== POLICY_STREAM || event.type !== POLICY_ADOPTED) return;
    const policy = policyOfAdoption(event.data);
    this.versions.set(policy.version, {
      version: policy.version,
      adoptedAt: event.recordedAt,
      adoptedBy: event.metadata.actor,
      eventId: event.id,
      policy,
    });
    this.revision = Math.max(this.revision, event.revision);
  }

  /** Every version held, as held (no read): what another registry is handed by remember. */
  held(): AdoptedPolicy[] {
    return [...this.versions.values()];
  }

  /** Holds versions another registry read (a rebuild's worker thread starts with its parent's). */
  remember(adopted: readonly AdoptedPolicy[]): void {
    for (const version of adopted) this.versions.set(version.version, version);
  }

  has(version: number): boolean {
    return this.versions.has(version);
  }

  current(): EscalationPolicy {
    const latest = Math.max(...this.versions.keys());
    const adopted = this.versions.get(latest);
    if (!adopted) throw new Error('no escalation policy adopted');
    return adopted.policy;
  }

  /** The rules of `version`; UnknownPolicyVersionError when it was never adopted (SPEC §3). */
  readonly of = (version: number): EscalationPolicy => {
    const adopted = this.versions.get(version);
    if (!adopted) throw new UnknownPolicyVersionError(version, [...this.versions.keys()]);
    return adopted.policy;
  };

  /** The adoption stored as event `eventId`, if any (read from the stream first). */
  async adoption(eventId: string): Promise<AdoptedPolicy | undefined> {
    await this.refresh();
    return [...this.versions.values()].find((adopted) => adopted.eventId === eventId);
  }

  /** Every adopted version, oldest first, as stored. */
  async list(): Promise<AdoptedPolicy[]> {
    await this.refresh();
    return [...this.versions.values()].sort((a, b) => a.version - b.version);
  }

  /**
   * Adopts `document` as version n+1 (SPEC §3): appended on the policy stream with the expected
   * revision, so two operators adopting at once get n+1 and n+2, never the same number. It
   * governs every event appended afterwards.
   */
  async adopt(
    document: EscalationPolicyDocument,
    context: { actor: Actor; occurredAt: string; correlationId?: string; eventId?: string },
  ): Promise<AdoptedPolicy> {
    const id = context.eventId ?? randomUUID();
    for (let attempt = 1; ; attempt++) {
      await this.refresh();
      const version = Math.max(0, ...this.versions.keys()) + 1;
      try {
        const { events } = await this.store.append(
          POLICY_STREAM,
          [
            {
              id,
              type: POLICY_ADOPTED,
              occurredAt: context.occurredAt,
              data: policyAdoptedData({ ...document, version }),
              metadata: {
                correlationId: context.correlationId ?? id,
                causationId: null,
                actor: context.actor,
                policyVersion: version,
                ...(this.options.exercise ? { exercise: true } : {}),
              },
            },
          ],
          { expectedRevision: this.revision },
        );
        events.forEach((e) => this.apply(e));
        return this.versions.get(version)!;
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= MAX_ADOPT_ATTEMPTS) throw error;
      }
    }
  }
}
