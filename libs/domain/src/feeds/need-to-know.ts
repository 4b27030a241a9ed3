import { BreachReported, PartnerCode } from '../events/events';
import { IncidentState } from '../incident/state';
import { EscalationPolicy, knownPartners } from '../policy/policy';

/** The derived notice every partner receives when an incident reaches a tier (SPEC §7). */
export const INCIDENT_TIER_CHANGED = 'IncidentTierChanged';

/** What the need-to-know rules read of an event: its type and data (a feed notice included). */
export interface ReleasableEvent {
  type: string;
  data: unknown;
  metadata?: unknown;
}

/** What the rules read of the incident: who was asked to verify, who was tasked. */
export type ReleaseContext = Pick<IncidentState, 'verifiers' | 'tasks'>;

/** Every partner with a feed of its own: all the partners the policy knows of. */
export const FEED_PARTNERS = (policy: EscalationPolicy): PartnerCode[] => knownPartners(policy);

const RELEASABLE_TO_ALL = new Set<string>([
  'BreachReported',
  'BreachConfirmed',
  'BreachRejected',
  'WarningIssued',
  'HostilitiesPersisted',
  'EscalationAssessed',
  'WesternResponseActivated',
  'DeadlineMissed',
  'IncidentResolved',
  INCIDENT_TIER_CHANGED,
]);

const TASK_ANSWERS = new Set<string>([
  'CoalitionTaskAcknowledged',
  'CoalitionTaskDeclined',
  'CoalitionTaskCompleted',
]);

const same = (a: string, b: string): boolean => a.toUpperCase() === b.toUpperCase();
const among = (partner: string, codes: readonly string[]): boolean =>
  codes.some((code) => same(code, partner));
const field = (data: unknown, name: string): unknown =>
  typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[name] : undefined;
const codes = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

/**
 * The need-to-know rules of SPEC §7, the one function every feed uses. Anything the SPEC does
 * not list (ResponseActionReported, NotificationDelivered, NoticeAcknowledged, an unknown type)
 * is released to nobody: a feed errs on the side of withholding.
 */
export function isReleasable(
  event: ReleasableEvent,
  partner: PartnerCode,
  incident: ReleaseContext,
): boolean {
  if (RELEASABLE_TO_ALL.has(event.type)) return true;
  switch (event.type) {
    // Verification: the assigned verifiers and UA. A request names its verifiers itself, so it
    // reaches them even before the incident state shows the assignment.
    case 'VerificationRequested':
      return (
        same(partner, 'UA') ||
        among(partner, incident.verifiers) ||
        among(partner, codes(field(event.data, 'verifiers')))
      );
    case 'VerificationFindingSubmitted':
      return same(partner, 'UA') || among(partner, incident.verifiers);
    // Coalition tasks: the tasked member, UA and US.
    case 'CoalitionTaskAssigned': {
      const member = field(event.data, 'member');
      return among(partner, ['UA', 'US', ...(typeof member === 'string' ? [member] : [])]);
    }
    case 'DecisionRecorded': {
      const releasableTo = field(event.data, 'releasableTo');
      return releasableTo === undefined ? true : among(partner, codes(releasableTo));
    }
    default: {
      if (!TASK_ANSWERS.has(event.type)) return false;
      const taskId = field(event.data, 'taskId');
      const task = incident.tasks.find((t) => t.taskId === taskId);
      return among(partner, ['UA', 'US', ...(task ? [task.member] : [])]);
    }
  }
}

/** The data of an event as a partner may see it: a report never names its source (SPEC §7). */
export function redactFor(event: ReleasableEvent, _partner: PartnerCode): unknown {
  if (event.type !== 'BreachReported') return event.data;
  const report = event.data as BreachReported;
  const { id: _sourceId, ...source } = report.source;
  return { ...report, source };
}
