/**
 * The events of SPEC §4 (schema version 1) as a discriminated union.
 * Messages are types, not classes: the envelope carries the schema version.
 */
export const SCHEMA_VERSION = 1 as const;

export type PartnerCode = string; // ISO 3166-1 alpha-2 or 'EU'
export type Iso = string; // ISO 8601 instant with offset

export const CATEGORIES = ['artillery', 'drone', 'missile', 'air', 'ground', 'other'] as const;
export const SEVERITIES = ['minor', 'major', 'critical'] as const;
export const SOURCE_KINDS = ['sensor', 'monitor', 'party', 'partner'] as const;
export const FINDINGS = ['confirmed', 'not-confirmed', 'inconclusive'] as const;
export const VERDICT_BASES = ['quorum', 'override'] as const;
export const SCALES = ['localized', 'sustained', 'large-scale'] as const;
export const CAPABILITIES = [
  'land',
  'maritime',
  'air',
  'air-defence',
  'intelligence',
  'logistics',
] as const;
export const DECISIONS = [
  'authorize-warning',
  'authorize-coalition-deployment',
  'authorize-western-response',
  'stand-down',
  'other',
] as const;
export const NOTIFICATION_SUBJECTS = ['tier-change', 'warning', 'task'] as const;
export const NOTIFICATION_CHANNELS = ['webhook', 'feed'] as const;
export const OBLIGATION_KINDS = [
  'verification',
  'warning',
  'coalition-ack',
  'western-response',
] as const;
export const RESOLUTIONS = ['ceased', 'false-alarm', 'superseded'] as const;

export type Category = (typeof CATEGORIES)[number];
export type Severity = (typeof SEVERITIES)[number];
export type SourceKind = (typeof SOURCE_KINDS)[number];
export type Finding = (typeof FINDINGS)[number];
export type VerdictBasis = (typeof VERDICT_BASES)[number];
export type Scale = (typeof SCALES)[number];
export type Capability = (typeof CAPABILITIES)[number];
export type Decision = (typeof DECISIONS)[number];
export type ObligationKind = (typeof OBLIGATION_KINDS)[number];
export type Resolution = (typeof RESOLUTIONS)[number];

export interface BreachReported {
  location: { sector: string; frontlineKm: number; lat?: number; lon?: number };
  category: Category;
  severity: Severity;
  source: { kind: SourceKind; id: string };
  summary: string;
}
export interface VerificationRequested {
  verifiers: PartnerCode[];
  dueAt: Iso;
}
export interface VerificationFindingSubmitted {
  verifier: PartnerCode;
  finding: Finding;
  evidence: string[];
  note?: string;
}
/**
 * `repeatedViolation` records, at the moment of confirmation, the other confirmed breaches in
 * the same sector that make this one a repeated violation (SPEC §3, §5). It is computed under
 * the policy in force by whoever confirms, so the tier can be folded from the incident's own
 * stream and replays apply the rules of the time. Absent when the sector is not under
 * repeated violation.
 */
export interface BreachConfirmed {
  basis: VerdictBasis;
  findings?: string[];
  reason?: string;
  repeatedViolation?: { sector: string; windowHours: number; incidentIds: string[] };
}
export interface BreachRejected {
  basis: VerdictBasis;
  reason: string;
  findings?: string[];
}
export interface WarningIssued {
  channel: string;
  recipient: string;
  reference: string;
}
export interface ResponseActionReported {
  actor: string;
  action: string;
}
export interface HostilitiesPersisted {
  observation: string;
}
export interface EscalationAssessed {
  scale: Scale;
  assessor: string;
}
export interface CoalitionTaskAssigned {
  taskId: string;
  member: PartnerCode;
  capability: Capability;
  dueAt: Iso;
  /** The tier whose measures this task belongs to (2: coalition of the willing, 3: Western-backed force). */
  tier: 2 | 3;
}
export interface CoalitionTaskAnswer {
  taskId: string;
  reason?: string;
}
export interface WesternResponseActivated {
  elements: string[];
  reference: string;
}
export interface DecisionRecorded {
  authority: string;
  decision: Decision;
  rationale: string;
  optionsConsidered?: string[];
  releasableTo?: PartnerCode[];
}
export interface NotificationDelivered {
  partner: PartnerCode;
  subject: (typeof NOTIFICATION_SUBJECTS)[number];
  tier?: number;
  channel: (typeof NOTIFICATION_CHANNELS)[number];
  reference: string;
}
export interface NoticeAcknowledged {
  partner: PartnerCode;
  eventId: string;
}
export interface DeadlineMissed {
  obligation: ObligationKind;
  dueAt: Iso;
  refId?: string;
}
export interface IncidentResolved {
  resolution: Resolution;
  note?: string;
}

export interface IncidentEventDataMap {
  BreachReported: BreachReported;
  VerificationRequested: VerificationRequested;
  VerificationFindingSubmitted: VerificationFindingSubmitted;
  BreachConfirmed: BreachConfirmed;
  BreachRejected: BreachRejected;
  WarningIssued: WarningIssued;
  ResponseActionReported: ResponseActionReported;
  HostilitiesPersisted: HostilitiesPersisted;
  EscalationAssessed: EscalationAssessed;
  CoalitionTaskAssigned: CoalitionTaskAssigned;
  CoalitionTaskAcknowledged: CoalitionTaskAnswer;
  CoalitionTaskDeclined: CoalitionTaskAnswer;
  CoalitionTaskCompleted: CoalitionTaskAnswer;
  WesternResponseActivated: WesternResponseActivated;
  DecisionRecorded: DecisionRecorded;
  NotificationDelivered: NotificationDelivered;
  NoticeAcknowledged: NoticeAcknowledged;
  DeadlineMissed: DeadlineMissed;
  IncidentResolved: IncidentResolved;
}
export type IncidentEventType = keyof IncidentEventDataMap;
/**
 * The current schema version of every incident event type: the one record the list of types
 * derives from. Keyed by the data map, so a type added there does not compile until it is here.
 */
export const INCIDENT_EVENT_SCHEMA_VERSIONS: { readonly [K in IncidentEventType]: number } = {
  BreachReported: SCHEMA_VERSION,
  VerificationRequested: SCHEMA_VERSION,
  VerificationFindingSubmitted: SCHEMA_VERSION,
  BreachConfirmed: SCHEMA_VERSION,
  BreachRejected: SCHEMA_VERSION,
  WarningIssued: SCHEMA_VERSION,
  ResponseActionReported: SCHEMA_VERSION,
  HostilitiesPersisted: SCHEMA_VERSION,
  EscalationAssessed: SCHEMA_VERSION,
  CoalitionTaskAssigned: SCHEMA_VERSION,
  CoalitionTaskAcknowledged: SCHEMA_VERSION,
  CoalitionTaskDeclined: SCHEMA_VERSION,
  CoalitionTaskCompleted: SCHEMA_VERSION,
  WesternResponseActivated: SCHEMA_VERSION,
  DecisionRecorded: SCHEMA_VERSION,
  NotificationDelivered: SCHEMA_VERSION,
  NoticeAcknowledged: SCHEMA_VERSION,
  DeadlineMissed: SCHEMA_VERSION,
  IncidentResolved: SCHEMA_VERSION,
};
export const INCIDENT_EVENT_TYPES = Object.keys(
  INCIDENT_EVENT_SCHEMA_VERSIONS,
) as readonly IncidentEventType[];

export const isIncidentEventType = (type: string): type is IncidentEventType =>
  Object.prototype.hasOwnProperty.call(INCIDENT_EVENT_SCHEMA_VERSIONS, type);

/** `{ type, data }` pairs: what a decider returns before ids and metadata are attached. */
export type IncidentEvent = {
  [K in IncidentEventType]: { type: K; data: IncidentEventDataMap[K] };
}[IncidentEventType];

export type EventOf<K extends IncidentEventType> = Extract<IncidentEvent, { type: K }>;
