import {
  BreachReported,
  IncidentEvent,
  CoalitionTaskAnswer,
  DecisionRecorded,
  EscalationAssessed,
  HostilitiesPersisted,
  IncidentResolved,
  NotificationDelivered,
  ResponseActionReported,
  VerificationFindingSubmitted,
  WarningIssued,
  WesternResponseActivated,
  Iso,
  PartnerCode,
} from '../events/events';
import { Actor } from '../events/envelope';
import { ForbiddenError, IllegalStateError, NotFoundError } from '../errors/errors';
import { EscalationPolicy } from '../policy/policy';
import { coalitionTaskingReactions } from '../workflows/coalition-tasking.workflow';
import { missedDeadlines } from '../workflows/deadlines.workflow';
import { WarningChannel, warningReactions } from '../workflows/notification.workflow';
import { verdictAt, verificationReactions } from '../workflows/verification.workflow';
import { confirmation } from './confirmation';
import { SectorConfirmation } from './repeated-violation';
import { IncidentState } from './state';

/**
 * Commands of the HTTP API (SPEC §6), as plain types, beside the rule that decides them: a new
 * command is its variant here and its case in decideIncident (the switch is exhaustive). Each
 * targets one incident; the edge validates shape, the decider what the incident's state allows.
 */
export type IncidentCommand =
  | { type: 'ReportBreach'; data: BreachReported }
  | { type: 'SubmitFinding'; data: VerificationFindingSubmitted }
  | { type: 'OverrideVerdict'; data: { verdict: 'confirmed' | 'rejected'; reason: string } }
  | { type: 'RecordWarning'; data: WarningIssued }
  | { type: 'ReportResponseAction'; data: ResponseActionReported }
  | { type: 'ReportHostilities'; data: HostilitiesPersisted }
  | { type: 'AssessEscalation'; data: EscalationAssessed }
  | { type: 'RecordDecision'; data: DecisionRecorded }
  | {
      type: 'AnswerTask';
      data: CoalitionTaskAnswer & { answer: 'acknowledge' | 'decline' | 'complete' };
    }
  | { type: 'ActivateWesternResponse'; data: WesternResponseActivated }
  | { type: 'ResolveIncident'; data: IncidentResolved }
  // A ministry's receipt of a notice of its own feed (the feed is checked by the caller).
  | { type: 'AcknowledgeNotice'; data: { partner: PartnerCode; eventId: string } }
  | SystemCommand;

/**
 * Commands the services send in reaction to a fact (their cause travels in the command
 * envelope's metadata). They go through the same decider as the HTTP commands, so every
 * invariant lives once, in decide; what a service computes is only which command to send.
 */
export type SystemCommand =
  /** Ask the verifier roster, or conclude by quorum once enough findings agree. */
  | { type: 'Verify'; data: Record<string, never> }
  /** Task the coalition (tier 2) and the Western-backed force (tier 3) for every tier reached. */
  | { type: 'AssignCoalitionTasks'; data: Record<string, never> }
  /** Issue the diplomatic warning a recorded `authorize-warning` decision calls for. */
  | { type: 'IssueWarning'; data: WarningChannel & { decisionEventId: string; reference: string } }
  /** Record every obligation whose dueAt lies before `now`. */
  | { type: 'RecordMissedDeadlines'; data: { now: Iso } }
  /** Record that a partner's webhook took a notice (a fact, even after resolution). */
  | { type: 'RecordDelivery'; data: NotificationDelivered };

export type IncidentCommandType = IncidentCommand['type'];

export { confirmation };

export interface DecideContext {
  actor: Actor;
  policy: EscalationPolicy;
  /** occurredAt the resulting events will carry (validated by the caller against the clock). */
  occurredAt: string;
  /** Other confirmed breaches of the incident's sector; only read when a confirmation is decided. */
  sectorConfirmations?: SectorConfirmation[];
  /**
   * Derives a deterministic id from its parts. The effects of system commands take ids derived
   * from what they answer, so a redelivered cause, a restart or a second instance decides the
   * same ids and the store appends them once.
   */
  idOf: (...parts: string[]) => string;
}

/**
 * An event decide returns. A system command's effect names its own id and, when it happens at
 * another instant than the command (a task due from the tier change, a deadline missed at its
 * dueAt), its occurredAt; the command path fills in the rest.
 */
export type DecidedEvent = IncidentEvent & { id?: string; occurredAt?: string };

const refuse = (reason: string, message: string): never => {
  throw new IllegalStateError(reason, message);
};

function requireExisting(state: IncidentState): void {
  if (state.status === 'none') throw new NotFoundError('incident not found');
}

/** Anything after resolution is refused (SPEC §5). */
function requireNotResolved(state: IncidentState): void {
  requireExisting(state);
  if (state.status === 'resolved') refuse('incident-resolved', 'the incident is resolved');
}

/** Tier ≥ 1 measures need a confirmed breach that is still open. */
function requireConfirmed(state: IncidentState, what: string): void {
  requireNotResolved(state);
  if (state.status === 'rejected') refuse('incident-rejected', `${what}: the breach was rejected`);
  if (state.status !== 'open') refuse('not-confirmed', `${what}: the breach is not confirmed yet`);
}

function requireVerifying(state: IncidentState): void {
  requireNotResolved(state);
  if (state.status !== 'verifying')
    refuse(
      'verification-closed',
      `verification is closed: the breach was already ${state.status === 'open' ? 'confirmed' : 'rejected'}`,
    );
}

/** decide(command, state) → events; pure: the clock, ids and policy come in through ctx. */
export function decideIncident(
  command: IncidentCommand,
  state: IncidentState,
  ctx: DecideContext,
): DecidedEvent[] {
  switch (command.type) {
    case 'ReportBreach':
      if (state.status !== 'none') refuse('incident-exists', 'the incident already exists');
      return [{ type: 'BreachReported', data: command.data }];
    case 'SubmitFinding': {
      requireExisting(state);
      const { verifier } = command.data;
      if (ctx.actor.partner !== verifier)
        throw new ForbiddenError(
          `a ${ctx.actor.partner ?? 'partner-less'} verifier token cannot submit ${verifier}'s finding`,
          'verifier-mismatch',
        );
      const assigned = state.verificationRequested ? state.verifiers : ctx.policy.verifierRoster;
      if (!assigned.includes(verifier))
        throw new ForbiddenError(
          `${verifier} is not an assigned verifier of this incident`,
          'verifier-not-assigned',
        );
      if (state.findings.some((f) => f.verifier === verifier))
        refuse('finding-already-submitted', `${verifier} has already submitted a finding`);
      requireVerifying(state);
      return [{ type: 'VerificationFindingSubmitted', data: command.data }];
    }
    case 'OverrideVerdict':
      requireVerifying(state);
      return command.data.verdict === 'confirmed'
        ? [confirmation(state, ctx, { basis: 'override', reason: command.data.reason })]
        : [{ type: 'BreachRejected', data: { basis: 'override', reason: command.data.reason } }];
    case 'RecordWarning':
      requireConfirmed(state, 'a warning');
      return [{ type: 'WarningIssued', data: command.data }];
    case 'ReportResponseAction':
      requireConfirmed(state, 'a response action');
      return [{ type: 'ResponseActionReported', data: command.data }];
    case 'ReportHostilities':
      requireConfirmed(state, 'persisting hostilities');
      return [{ type: 'HostilitiesPersisted', data: command.data }];
    case 'AssessEscalation':
      requireConfirmed(state, 'an escalation assessment');
      return [{ type: 'EscalationAssessed', data: command.data }];
    case 'RecordDecision':
      // A recorded decision is never silently without effect (SPEC §5): a warning can only be
      // issued for a confirmed breach, so its authorization waits for the confirmation.
      if (command.data.decision === 'authorize-warning')
        requireConfirmed(state, 'a decision authorize-warning');
      else requireNotResolved(state);
      return [{ type: 'DecisionRecorded', data: command.data }];
    case 'AnswerTask': {
      requireNotResolved(state);
      const { answer, taskId, reason } = command.data;
      const task = state.tasks.find((t) => t.taskId === taskId);
      if (!task) throw new NotFoundError(`coalition task ${taskId} not found`);
      if (ctx.actor.partner !== task.member)
        throw new ForbiddenError(`the task is addressed to ${task.member}`, 'not-task-member');
      const allowedFrom = answer === 'complete' ? ['assigned', 'acknowledged'] : ['assigned'];
      if (!allowedFrom.includes(task.status))
        refuse('task-already-answered', `the task is already ${task.status}`);
      const type =
        answer === 'acknowledge'
          ? 'CoalitionTaskAcknowledged'
          : answer === 'decline'
            ? 'CoalitionTaskDeclined'
            : 'CoalitionTaskCompleted';
      return [{ type, data: { taskId, ...(reason !== undefined ? { reason } : {}) } }];
    }
    case 'ActivateWesternResponse':
      requireConfirmed(state, 'a Western response');
      if ((state.tier ?? 0) < 3)
        refuse(
          'not-large-scale',
          'the Western-backed force responds at tier 3 (large-scale attack)',
        );
      // No intervention without a decision: the plan does not act automatically (SPEC §5).
      if (!state.decisions.some((d) => d.decision === 'authorize-western-response'))
        refuse(
          'no-authorizing-decision',
          'a Western response needs a recorded decision authorize-western-response on the incident',
        );
      if (!command.data.elements.some((e) => /\bUS\b/.test(e)))
        refuse('no-us-element', 'the activation must include at least one US element');
      return [{ type: 'WesternResponseActivated', data: command.data }];
    case 'ResolveIncident':
      requireNotResolved(state);
      return [{ type: 'IncidentResolved', data: command.data }];
    // A receipt and a delivery record are facts about notices: kept even after resolution.
    case 'AcknowledgeNotice': {
      requireExisting(state);
      const partner = command.data.partner.toUpperCase();
      const { eventId } = command.data;
      return [
        {
          type: 'NoticeAcknowledged',
          data: { partner, eventId },
          id: ctx.idOf(partner, eventId, 'ack'),
        },
      ];
    }
    case 'RecordDelivery':
      requireExisting(state);
      return [
        {
          type: 'NotificationDelivered',
          data: command.data,
          id: ctx.idOf(command.data.reference, 'delivered'),
        },
      ];
    // System commands: the services' rules, held to the same invariants as the HTTP commands.
    case 'Verify': {
      requireVerifying(state);
      const incidentId = state.incidentId ?? '';
      // One request per incident, one verdict per incident: ids that a replay reproduces.
      return verificationReactions(state, ctx).map((e) => ({
        ...e,
        id: ctx.idOf(incidentId, 'verification', e.type),
        ...verdictAt(state, e, ctx.policy.verificationQuorum),
      }));
    }
    case 'AssignCoalitionTasks': {
      requireConfirmed(state, 'coalition tasking');
      const incidentId = state.incidentId ?? '';
      const taskIdOf = (tier: number, member: string, capability: string) =>
        ctx.idOf(incidentId, 'task', String(tier), member, capability);
      return coalitionTaskingReactions(state, ctx.policy, taskIdOf).flatMap(({ at, events }) =>
        events.map((e) => ({
          ...e,
          id: ctx.idOf(e.type === 'CoalitionTaskAssigned' ? e.data.taskId : e.type, 'assigned'),
          occurredAt: at,
        })),
      );
    }
    case 'IssueWarning': {
      requireConfirmed(state, 'a warning');
      const { decisionEventId, reference, channel, recipient } = command.data;
      return warningReactions(state, decisionEventId, { channel, recipient }, reference).map(
        (e) => ({ ...e, id: ctx.idOf(decisionEventId, 'warning') }),
      );
    }
    case 'RecordMissedDeadlines': {
      requireNotResolved(state);
      const incidentId = state.incidentId ?? '';
      return missedDeadlines(state, new Date(command.data.now)).map(({ key, dueAt, event }) => ({
        ...event,
        id: ctx.idOf(incidentId, 'deadline-missed', key),
        occurredAt: dueAt,
      }));
    }
    default: {
      const unknown: never = command;
      return unknown;
    }
  }
}
