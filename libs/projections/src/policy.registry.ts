import {
  EscalationPolicy,
  NewEvent,
  POLICY_ADOPTED,
  POLICY_STREAM,
  POLICY_V1,
  StoredEvent,
} from '@truceline/domain';
import { deterministicId, EventStore } from '@truceline/event-store';

/**
 * The escalation policies adopted on `policy-escalation` (SPEC §3), by version. Version 1 is
 * adopted at first start with a deterministic event id, so concurrent first starts of several
 * processes adopt it once. Replays look rules up by the version recorded in each event.
 */
export class PolicyRegistry {
  private readonly versions = new Map<number, EscalationPolicy>();

  /**
   * `exercise`: the process runs on the exercise clock, so a policy it adopts is drill data and
   * marked as such (SPEC §2), as every other event it appends.
   */
  constructor(
    private readonly store: EventStore,
    private readonly options: { exercise?: boolean } = {},
  ) {}

  async load(): Promise<void> {
    const events = await this.store.readStream(POLICY_STREAM);
    if (events.length === 0) {
      const adopted: NewEvent = {
        id: deterministicId('policy-escalation', 'v1'),
        type: POLICY_ADOPTED,
        occurredAt: new Date(0).toISOString(),
        data: POLICY_V1,
        metadata: {
          correlationId: deterministicId('policy-escalation', 'v1'),
          causationId: null,
          actor: { id: 'truceline', role: 'service' },
          policyVersion: POLICY_V1.version,
          ...(this.options.exercise ? { exercise: true } : {}),
        },
      };
      await this.store.append(POLICY_STREAM, [adopted], { expectedRevision: 'any' });
      return this.load();
    }
    events.forEach((e) => this.apply(e));
  }

  /** Keeps the registry current when a new version is adopted while running. */
  apply(event: StoredEvent): void {
    if (event.streamId !== POLICY_STREAM || event.type !== POLICY_ADOPTED) return;
    const policy = event.data as EscalationPolicy;
    this.versions.set(policy.version, policy);
  }

  has(version: number): boolean {
    return this.versions.has(version);
  }

  current(): EscalationPolicy {
    const latest = Math.max(...this.versions.keys());
    const policy = this.versions.get(latest);
    if (!policy) throw new Error('no escalation policy adopted');
    return policy;
  }

  /** Unknown versions fall back to v1, the only one the system ships with. */
  readonly of = (version: number): EscalationPolicy =>
    this.versions.get(version) ?? this.versions.get(1) ?? POLICY_V1;
}
