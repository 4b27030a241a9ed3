import { IncidentEvent } from '@truceline/domain';

const list = (values: readonly string[] | undefined): string =>
  values && values.length ? values.join(', ') : 'none';

/**
 * One line a person reads in the audit's timeline. It says only what the event's data says:
 * for a ministry the data is first redacted as its feed is (a report never names its source).
 */
export function summarizeEvent(event: IncidentEvent): string {
  switch (event.type) {
    case 'BreachReported': {
      const { location, category, severity, source, summary } = event.data;
      const from = source.id ? `${source.kind} ${source.id}` : source.kind;
      return (
        `${severity} ${category} breach reported by ${from} in ${location.sector} ` +
        `(km ${location.frontlineKm}): ${summary}`
      );
    }
    case 'VerificationRequested':
      return `verification requested from ${list(event.data.verifiers)}, due ${event.data.dueAt}`;
    case 'VerificationFindingSubmitted':
      return `${event.data.verifier} finds: ${event.data.finding} (evidence: ${list(event.data.evidence)})`;
    case 'BreachConfirmed': {
      const repeated = event.data.repeatedViolation;
      return (
        `breach confirmed (${event.data.basis})` +
        (repeated ? `; sector ${repeated.sector} under repeated violation` : '') +
        (event.data.reason ? `: ${event.data.reason}` : '')
      );
    }
    case 'BreachRejected':
      return `breach rejected (${event.data.basis}): ${event.data.reason}`;
    case 'WarningIssued':
      return `warning issued to ${event.data.recipient} via ${event.data.channel} (${event.data.reference})`;
    case 'ResponseActionReported':
      return `${event.data.actor}: ${event.data.action}`;
    case 'HostilitiesPersisted':
      return `hostilities persist: ${event.data.observation}`;
    case 'EscalationAssessed':
      return `escalation assessed as ${event.data.scale} by ${event.data.assessor}`;
    case 'CoalitionTaskAssigned':
      return (
        `tier ${event.data.tier} task ${event.data.taskId}: ${event.data.member} ` +
        `${event.data.capability}, acknowledge by ${event.data.dueAt}`
      );
    case 'CoalitionTaskAcknowledged':
    case 'CoalitionTaskDeclined':
    case 'CoalitionTaskCompleted': {
      const verb = event.type.replace('CoalitionTask', '').toLowerCase();
      return `task ${event.data.taskId} ${verb}${event.data.reason ? `: ${event.data.reason}` : ''}`;
    }
    case 'WesternResponseActivated':
      return `Western-backed response activated (${list(event.data.elements)}; ${event.data.reference})`;
    case 'DecisionRecorded':
      return `${event.data.authority} decides ${event.data.decision}: ${event.data.rationale}`;
    case 'NotificationDelivered':
      return (
        `${event.data.subject} notice` +
        (event.data.tier === undefined ? '' : ` (tier ${event.data.tier})`) +
        ` delivered to ${event.data.partner} by ${event.data.channel}`
      );
    case 'NoticeAcknowledged':
      return `${event.data.partner} acknowledged notice ${event.data.eventId}`;
    case 'DeadlineMissed':
      return (
        `${event.data.obligation} deadline missed (due ${event.data.dueAt}` +
        (event.data.refId ? `, task ${event.data.refId}` : '') +
        ')'
      );
    case 'IncidentResolved':
      return `resolved: ${event.data.resolution}${event.data.note ? ` (${event.data.note})` : ''}`;
    default: {
      const unknown: never = event;
      return String((unknown as { type: unknown }).type);
    }
  }
}
