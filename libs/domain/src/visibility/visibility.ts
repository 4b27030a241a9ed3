import { BreachReported, IncidentEventType, PartnerCode } from '../events/events';
import { CoalitionTask, IncidentState, Obligation, Acknowledgement } from '../incident/state';
import { EscalationPolicy, knownPartners } from '../policy/policy';

/** The derived notice every partner receives when an incident reaches a tier (SPEC §7). */
export const INCIDENT_TIER_CHANGED = 'IncidentTierChanged';

/**
 * The notice every partner receives for each signed checkpoint of the log (SPEC §10): not about
 * an incident, so its feed entry has no incident id.
 */
export const LOG_CHECKPOINT = 'LogCheckpoint';

/** What the visibility rules read of an event: its type and data (a feed notice included). */
export interface ReleasableEvent {
  type: string;
  data: unknown;
  metadata?: unknown;
}

/** What the rules read of the incident: who was asked to verify, who was tasked. */
export type ReleaseContext = Pick<IncidentState, 'verifiers' | 'tasks'>;

/** Every partner with a feed of its own: all the partners the policy knows of. */
export const FEED_PARTNERS = (policy: EscalationPolicy): readonly PartnerCode[] =>
  knownPartners(policy);

/** Partners that see every coalition task besides the tasked member (SPEC §7). */
const SEES_ALL_TASKS = ['UA', 'US'];

const same = (a: string, b: string): boolean => a.toUpperCase() === b.toUpperCase();
const among = (partner: string, codes: readonly string[]): boolean =>
  codes.some((code) => same(code, partner));
const field = (data: unknown, name: string): unknown =>
  typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[name] : undefined;
const codes = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

/** Who may see one event: data as stored (read defensively), the partner, the incident. */
type Rule = (data: unknown, partner: PartnerCode, incident: ReleaseContext) => boolean;

const everyone: Rule = () => true;
const nobody: Rule = () => false;
/** A task's member, UA and US (SPEC §7); a task unknown to the incident, UA and US only. */
const taskAnswer: Rule = (data, partner, incident) => {
  const task = incident.tasks.find((t) => t.taskId === field(data, 'taskId'));
  return among(partner, [...SEES_ALL_TASKS, ...(task ? [task.member] : [])]);
};

/**
 * The need-to-know rules of SPEC §7, one per event type: the only place that decides who may
 * see what. Feeds, a ministry's incident view and partner webhooks all ask here. Keyed by every
 * incident event type, so a new type does not compile until its visibility is decided.
 * Internal facts (a response action, a delivery record, a receipt) are released to nobody.
 */
const VISIBILITY: Readonly<Record<IncidentEventType | typeof INCIDENT_TIER_CHANGED, Rule>> = {
  BreachReported: everyone,
  BreachConfirmed: everyone,
  BreachRejected: everyone,
  WarningIssued: everyone,
  HostilitiesPersisted: everyone,
  EscalationAssessed: everyone,
  WesternResponseActivated: everyone,
  DeadlineMissed: everyone,
  IncidentResolved: everyone,
  [INCIDENT_TIER_CHANGED]: everyone,
  // Verification: the assigned verifiers and UA. A request names its verifiers itself, so it
  // reaches them even before the incident state shows the assignment.
  VerificationRequested: (data, partner, incident) =>
    same(partner, 'UA') ||
    among(partner, incident.verifiers) ||
    among(partner, codes(field(data, 'verifiers'))),
  VerificationFindingSubmitted: (_data, partner, incident) =>
    same(partner, 'UA') || among(partner, incident.verifiers),
  // Coalition tasks: the tasked member, UA and US.
  CoalitionTaskAssigned: (data, partner) => {
    const member = field(data, 'member');
    return among(partner, [...SEES_ALL_TASKS, ...(typeof member === 'string' ? [member] : [])]);
  },
  CoalitionTaskAcknowledged: taskAnswer,
  CoalitionTaskDeclined: taskAnswer,
  CoalitionTaskCompleted: taskAnswer,
  DecisionRecorded: (data, partner) => {
    const releasableTo = field(data, 'releasableTo');
    return releasableTo === undefined ? true : among(partner, codes(releasableTo));
  },
  ResponseActionReported: nobody,
  NotificationDelivered: nobody,
  NoticeAcknowledged: nobody,
};

const ruleOf = (type: string): Rule =>
  Object.prototype.hasOwnProperty.call(VISIBILITY, type)
    ? VISIBILITY[type as keyof typeof VISIBILITY]
    : nobody;

/**
 * Whether `partner` may see the event. A type these rules do not know is released to nobody:
 * what is shown to partners errs on the side of withholding.
 */
export function isReleasable(
  event: ReleasableEvent,
  partner: PartnerCode,
  incident: ReleaseContext,
): boolean {
  return ruleOf(event.type)(event.data, partner, incident);
}

const redactedReports = new WeakMap<object, unknown>();

/**
 * The data of an event as a partner may see it: a report never names its source (SPEC §7).
 * Like the data of an event released as it is, what is returned is shared, not to be changed:
 * a report's redaction is made once per report data and given to every partner alike, so the
 * feeds, which ask for each partner, find one entry for all of them without comparing copies.
 */
export function redactFor(event: ReleasableEvent, _partner: PartnerCode): unknown {
  if (event.type !== 'BreachReported') return event.data;
  const report = event.data as BreachReported;
  let redacted = redactedReports.get(report);
  if (redacted === undefined) {
    const { id: _sourceId, ...source } = report.source;
    redacted = { ...report, source };
    redactedReports.set(report, redacted);
  }
  return redacted;
}

/** A coalition task in an incident's view: as its assignment is released (SPEC §7). */
export const maySeeTask = (partner: PartnerCode, task: Pick<CoalitionTask, 'member'>): boolean =>
  VISIBILITY.CoalitionTaskAssigned({ member: task.member }, partner, { verifiers: [], tasks: [] });

/** An obligation in an incident's view: a coalition-ack one goes with its task. */
export const maySeeObligation = (
  partner: PartnerCode,
  obligation: Pick<Obligation, 'kind' | 'refId'>,
  tasks: readonly Pick<CoalitionTask, 'taskId' | 'member'>[],
): boolean => {
  if (obligation.kind !== 'coalition-ack') return true;
  const task = tasks.find((t) => t.taskId === obligation.refId);
  return task !== undefined && maySeeTask(partner, task);
};

/** A receipt is its partner's own business, even to UA and US. */
export const maySeeReceipt = (
  partner: PartnerCode,
  receipt: Pick<Acknowledgement, 'partner'>,
): boolean => same(receipt.partner, partner);
