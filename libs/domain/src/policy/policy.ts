import { Capability, PartnerCode } from '../events/events';

/** Escalation rules as data (SPEC §3); adopted as EscalationPolicyAdopted on `policy-escalation`. */
export interface EscalationPolicy {
  version: number;
  verificationWindowHours: number;
  verificationQuorum: number;
  warningWindowHours: number;
  coalitionAckWindowHours: number;
  westernResponseWindowHours: number;
  repeatedViolation: { confirmedBreaches: number; windowHours: number };
  verifierRoster: PartnerCode[];
  coalitionRoster: { member: PartnerCode; capabilities: Capability[] }[];
  westernForceRoster: { member: PartnerCode; capabilities: Capability[] }[];
}

/** A policy as an operator submits it: the server assigns the version (SPEC §3). */
export type EscalationPolicyDocument = Omit<EscalationPolicy, 'version'>;

/**
 * An event names a policy version the registry does not hold. Never answered with another
 * version's rules (SPEC §3): a fold under the wrong rules would compute wrong deadlines.
 */
export class UnknownPolicyVersionError extends Error {
  override name = 'UnknownPolicyVersionError';
  constructor(
    readonly version: unknown,
    known: number[],
  ) {
    super(
      `escalation policy version ${String(version)} is not adopted (known: ${known.join(', ') || 'none'})`,
    );
  }
}

export const POLICY_STREAM = 'policy-escalation';
export const POLICY_ADOPTED = 'EscalationPolicyAdopted';

export const POLICY_V1: EscalationPolicy = {
  version: 1,
  verificationWindowHours: 6,
  verificationQuorum: 2,
  warningWindowHours: 24,
  coalitionAckWindowHours: 12,
  westernResponseWindowHours: 72,
  repeatedViolation: { confirmedBreaches: 3, windowHours: 168 },
  verifierRoster: ['UA', 'US', 'GB', 'FR'],
  coalitionRoster: [
    { member: 'GB', capabilities: ['land', 'air'] },
    { member: 'FR', capabilities: ['land', 'air'] },
    { member: 'DE', capabilities: ['air-defence'] },
    { member: 'PL', capabilities: ['land'] },
    { member: 'NO', capabilities: ['maritime'] },
    { member: 'IS', capabilities: ['logistics'] },
    { member: 'TR', capabilities: ['maritime'] },
  ],
  westernForceRoster: [
    { member: 'US', capabilities: ['intelligence', 'logistics', 'air'] },
    { member: 'GB', capabilities: ['air'] },
    { member: 'FR', capabilities: ['air'] },
  ],
};

/** The data of an `EscalationPolicyAdopted` event as SPEC §4 states it. */
export interface EscalationPolicyAdoptedData {
  version: number;
  /** The document the operator submitted, without the version the server assigned. */
  policy: EscalationPolicyDocument;
}

export const policyAdoptedData = (policy: EscalationPolicy): EscalationPolicyAdoptedData => {
  const { version, ...document } = policy;
  return { version, policy: document };
};

/**
 * The policy an `EscalationPolicyAdopted` event adopted. Logs written before the event took the
 * shape of SPEC §4 hold the settings beside the version (`{ version, ...settings }`); stored
 * events are never rewritten (the tamper-evident log hashes them as stored), so both shapes
 * are read here and nowhere else.
 */
export const policyOfAdoption = (data: unknown): EscalationPolicy => {
  const { version, policy, ...flat } = data as Partial<EscalationPolicyAdoptedData> & {
    version: number;
  };
  const settings = policy ?? (flat as EscalationPolicyDocument);
  return { ...settings, version };
};

const partnersKnown = new WeakMap<EscalationPolicy, readonly PartnerCode[]>();

/**
 * Every partner code the policy knows of: rosters, verifiers, UA, US and EU. Found once per
 * policy (a policy is never changed once made): the feeds ask for every event they apply.
 */
export const knownPartners = (policy: EscalationPolicy): readonly PartnerCode[] => {
  let known = partnersKnown.get(policy);
  if (!known) {
    known = Object.freeze(
      [
        ...new Set([
          'UA',
          'US',
          'EU',
          ...policy.verifierRoster,
          ...policy.coalitionRoster.map((m) => m.member),
          ...policy.westernForceRoster.map((m) => m.member),
        ]),
      ].sort(),
    );
    partnersKnown.set(policy, known);
  }
  return known;
};

export const HOUR_MS = 3_600_000;

/**
 * addHours' recent answers. One event's instant is folded by the command that decides it, the
 * incident view and the partner feeds, each computing the same due time: parsing and printing
 * a Date cost ~0.7 µs a call, the lookup ~0.15. Cleared when full rather than kept in order.
 */
const added = new Map<string, string>();
const ADDED_KEPT = 1_000;

export const addHours = (iso: string, hours: number): string => {
  const key = `${hours} ${iso}`;
  let found = added.get(key);
  if (found === undefined) {
    found = new Date(Date.parse(iso) + hours * HOUR_MS).toISOString();
    if (added.size >= ADDED_KEPT) added.clear();
    added.set(key, found);
  }
  return found;
};
