import {
  Actor,
  addHours,
  BreachConfirmed,
  BreachReported,
  Capability,
  DecideContext,
  DecidedEvent,
  decideIncident,
  Decision,
  EscalationPolicy,
  EventOf,
  evolveIncident,
  Finding,
  IncidentCommand,
  IncidentEvent,
  IncidentEventDataMap,
  IncidentEventType,
  IncidentFact,
  IncidentState,
  incidentStreamId,
  initialIncidentState,
  NewEvent,
  ObligationKind,
  PartnerCode,
  POLICY_V1,
  PolicyLookup,
  Scale,
  TrucelineError,
} from '@truceline/domain';
import { randomUUID } from 'node:crypto';

/**
 * Emmett-style given/when/then for the incident decider:
 *
 *   incidentSpec().given(reported(), confirmed()).when(command).then([...events])
 *
 * Facts are drafts until `given` lays them out as one stream: fact i gets revision i, the id
 * `eventIdAt(i)` and occurs at `h(i)` (one hour after the previous one), recorded when it
 * occurred, under policy v1 — unless the draft says otherwise. Ids and times are fixed, so
 * expectations can name them and no test depends on the clock.
 *
 * `when(...)` returns an object with a `then` method: never `await` it or return it from a test.
 */

/** The fixed instant every default timestamp is measured from. */
export const T0 = '2026-03-02T04:00:00.000Z';
/** T0 plus `hours` (negative and fractional hours allowed). */
export const h = (hours: number): string => addHours(T0, hours);

export const INCIDENT_ID = '7d0c5a3e-2f1b-4c6d-9e8f-0a1b2c3d4e5f';
export const STREAM_ID = incidentStreamId(INCIDENT_ID);
export const DEFAULT_SECTOR = 'donetsk-north';

/** The id `given` gives the fact at `revision` when its draft names none. */
export const eventIdAt = (revision: number): string =>
  `00000000-0000-4000-8000-${String(revision).padStart(12, '0')}`;

export const operator: Actor = { id: 'operator-1', role: 'operator' };
export const service: Actor = { id: 'service-1', role: 'service' };
export const verifierOf = (partner: PartnerCode): Actor => ({
  id: `verifier-${partner.toLowerCase()}`,
  role: 'verifier',
  partner,
});
export const ministryOf = (partner: PartnerCode): Actor => ({
  id: `ministry-${partner.toLowerCase()}`,
  role: 'ministry',
  partner,
});

export interface FactOptions {
  id?: string;
  occurredAt?: string;
  recordedAt?: string;
  policyVersion?: number;
  exercise?: boolean;
}

/** A fact before `given` has placed it in the stream. */
export type FactDraft = IncidentEvent & FactOptions;

export function fact<K extends IncidentEventType>(
  type: K,
  data: IncidentEventDataMap[K],
  options: FactOptions = {},
): FactDraft {
  return { ...({ type, data } as EventOf<K>), ...options };
}

/** Lays drafts out as the incident's stream (see the file comment for the defaults). */
export function stream(...drafts: FactDraft[]): IncidentFact[] {
  return drafts.map((draft, revision): IncidentFact => {
    const { id, occurredAt, recordedAt, policyVersion, exercise, ...event } = draft;
    const at = occurredAt ?? h(revision);
    return {
      ...(event as IncidentEvent),
      id: id ?? eventIdAt(revision),
      streamId: STREAM_ID,
      revision,
      occurredAt: at,
      recordedAt: recordedAt ?? at,
      metadata: { policyVersion: policyVersion ?? 1, ...(exercise ? { exercise } : {}) },
    };
  });
}

// ---- fact factories ----------------------------------------------------------------------

export const breachData = (overrides: Partial<BreachReported> = {}): BreachReported => ({
  location: { sector: DEFAULT_SECTOR, frontlineKm: 712 },
  category: 'artillery',
  severity: 'major',
  source: { kind: 'sensor', id: 'sensor-0712' },
  summary: 'Artillery fire across the contact line',
  ...overrides,
});

/**
 * A minor BreachReported with fresh ids, ready to append to a new stream: traffic for specs that
 * need events in the log (feeds, relays, the ledger), not a story told by the decider.
 */
export const trafficReport = (): NewEvent => ({
  id: randomUUID(),
  type: 'BreachReported',
  occurredAt: T0,
  data: {
    location: { sector: 's', frontlineKm: 1 },
    category: 'drone',
    severity: 'minor',
    source: { kind: 'monitor', id: 'm-1' },
    summary: 'x',
  },
  metadata: {
    correlationId: randomUUID(),
    causationId: null,
    actor: { id: 'op', role: 'operator' },
    policyVersion: 1,
  },
});

export const reported = (options: FactOptions & { sector?: string } = {}): FactDraft => {
  const { sector, ...rest } = options;
  return fact(
    'BreachReported',
    breachData(sector ? { location: { sector, frontlineKm: 712 } } : {}),
    rest,
  );
};

export const verificationRequested = (
  options: FactOptions & { verifiers?: PartnerCode[]; dueAt?: string } = {},
): FactDraft => {
  const { verifiers = [...POLICY_V1.verifierRoster], dueAt = h(6), ...rest } = options;
  return fact('VerificationRequested', { verifiers, dueAt }, rest);
};

export const findingBy = (
  verifier: PartnerCode,
  finding: Finding,
  options: FactOptions = {},
): FactDraft =>
  fact(
    'VerificationFindingSubmitted',
    { verifier, finding, evidence: [`ev-${verifier}`] },
    options,
  );

export const confirmed = (options: FactOptions & Partial<BreachConfirmed> = {}): FactDraft => {
  const { id, occurredAt, recordedAt, policyVersion, exercise, ...data } = options;
  return fact(
    'BreachConfirmed',
    { basis: 'override', ...data },
    { id, occurredAt, recordedAt, policyVersion, exercise },
  );
};

export const rejected = (options: FactOptions & { reason?: string } = {}): FactDraft => {
  const { reason = 'no corroboration', ...rest } = options;
  return fact('BreachRejected', { basis: 'override', reason }, rest);
};

export const warningIssued = (options: FactOptions = {}): FactDraft =>
  fact(
    'WarningIssued',
    { channel: 'osce-hotline', recipient: 'RU-MFA', reference: 'note-1' },
    options,
  );

export const hostilitiesPersisted = (options: FactOptions = {}): FactDraft =>
  fact('HostilitiesPersisted', { observation: 'shelling continues' }, options);

export const assessed = (scale: Scale, options: FactOptions = {}): FactDraft =>
  fact('EscalationAssessed', { scale, assessor: 'joint-cell' }, options);

export const taskAssigned = (
  task: { taskId: string; member: PartnerCode; capability: Capability; tier: 2 | 3; dueAt: string },
  options: FactOptions = {},
): FactDraft => fact('CoalitionTaskAssigned', task, options);

export const taskAnswered = (
  type: 'CoalitionTaskAcknowledged' | 'CoalitionTaskDeclined' | 'CoalitionTaskCompleted',
  taskId: string,
  options: FactOptions = {},
): FactDraft => fact(type, { taskId }, options);

export const westernResponseActivated = (options: FactOptions = {}): FactDraft =>
  fact(
    'WesternResponseActivated',
    { elements: ['US intelligence', 'GB air'], reference: 'op-1' },
    options,
  );

export const decisionRecorded = (decision: Decision, options: FactOptions = {}): FactDraft =>
  fact(
    'DecisionRecorded',
    { authority: 'joint-council', decision, rationale: 'per the plan' },
    options,
  );

export const deadlineMissed = (
  obligation: ObligationKind,
  dueAt: string,
  options: FactOptions & { refId?: string } = {},
): FactDraft => {
  const { refId, ...rest } = options;
  return fact('DeadlineMissed', { obligation, dueAt, ...(refId ? { refId } : {}) }, rest);
};

export const resolved = (options: FactOptions = {}): FactDraft =>
  fact('IncidentResolved', { resolution: 'ceased' }, options);

// ---- given / when / then -----------------------------------------------------------------

export interface IncidentSpecOptions {
  /** Policy by version, for evolve; defaults to v1 only. */
  policyOf?: PolicyLookup;
  /** Policy handed to decide; defaults to v1. */
  policy?: EscalationPolicy;
}

type ErrorClass = abstract new (...args: never[]) => Error;

export interface WhenResult {
  /** The events decide returns, compared with `toEqual`. */
  then(expected: DecidedEvent[]): void;
  /** Decide refuses: an instance of `errorClass`, with `reason` when given. */
  thenThrows(errorClass: ErrorClass, reason?: string): void;
}

export interface GivenResult {
  /** The stream the drafts became (ids, revisions, timestamps filled in). */
  readonly facts: IncidentFact[];
  /** evolve folded over the facts. */
  state(): IncidentState;
  /** Decide `command` at the next hour, by an operator, under v1, unless `ctx` says otherwise. */
  when(command: IncidentCommand, ctx?: Partial<DecideContext>): WhenResult;
}

/** Readable stand-in for the store's deterministic ids: the parts, joined. */
export const idOfParts = (...parts: string[]): string => parts.join(':');

const v1Only: PolicyLookup = (version) => {
  if (version !== POLICY_V1.version) throw new Error(`no policy v${version} in this spec`);
  return POLICY_V1;
};

export function incidentSpec(options: IncidentSpecOptions = {}): {
  given(...drafts: FactDraft[]): GivenResult;
} {
  const policyOf = options.policyOf ?? v1Only;
  const policy = options.policy ?? POLICY_V1;
  return {
    given(...drafts) {
      const facts = stream(...drafts);
      const state = () =>
        facts.reduce((s, f) => evolveIncident(s, f, policyOf), initialIncidentState());
      return {
        facts,
        state,
        when(command, ctx = {}) {
          const decide = () =>
            decideIncident(command, state(), {
              actor: operator,
              policy,
              occurredAt: h(facts.length),
              sectorConfirmations: [],
              idOf: idOfParts,
              ...ctx,
            });
          return {
            then(expected) {
              expect(decide()).toEqual(expected);
            },
            thenThrows(errorClass, reason) {
              let thrown: unknown;
              try {
                decide();
              } catch (error) {
                thrown = error;
              }
              expect(thrown).toBeInstanceOf(errorClass);
              if (reason !== undefined)
                expect((thrown as TrucelineError).details?.reason).toBe(reason);
            },
          };
        },
      };
    },
  };
}
