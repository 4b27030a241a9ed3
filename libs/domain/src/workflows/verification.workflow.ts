import { IncidentEvent } from '../events/events';
import { addHours, EscalationPolicy } from '../policy/policy';
import { confirmation } from '../incident/confirmation';
import { SectorConfirmation } from '../incident/repeated-violation';
import { IncidentState } from '../incident/state';

/**
 * The facts the verification service answers with `Verify`: a new report is to be verified, a
 * finding may complete a quorum. Every runner of the rule (the service, the what-if) reads it here.
 */
export const VERIFICATION_CAUSES: ReadonlySet<string> = new Set([
  'BreachReported',
  'VerificationFindingSubmitted',
]);

/**
 * The verification service's rules (SPEC §5): ask the verifier roster for every new report;
 * confirm or reject once `verificationQuorum` distinct assigned verifiers agree.
 * Returns the events the state calls for (none when it needs nothing). Only reached through
 * decide's `Verify`, which refuses it once verification is closed.
 */
export function verificationReactions(
  state: IncidentState,
  ctx: { policy: EscalationPolicy; sectorConfirmations?: SectorConfirmation[] },
): IncidentEvent[] {
  if (!state.firstViolationAt) return [];
  const policy: EscalationPolicy = ctx.policy;
  if (!state.verificationRequested) {
    return [
      {
        type: 'VerificationRequested',
        data: {
          verifiers: [...policy.verifierRoster],
          dueAt: addHours(state.firstViolationAt, policy.verificationWindowHours),
        },
      },
    ];
  }
  // The quorum counts distinct assigned verifiers (SPEC §5): each verifier's first finding only.
  const assigned = state.findings.filter(
    (f, i, all) =>
      state.verifiers.includes(f.verifier) && all.findIndex((g) => g.verifier === f.verifier) === i,
  );
  const confirmed = assigned.filter((f) => f.finding === 'confirmed');
  const notConfirmed = assigned.filter((f) => f.finding === 'not-confirmed');
  if (confirmed.length >= policy.verificationQuorum) {
    return [
      confirmation(state, ctx, {
        basis: 'quorum',
        findings: confirmed.map((f) => f.eventId),
      }),
    ];
  }
  if (notConfirmed.length >= policy.verificationQuorum) {
    return [
      {
        type: 'BreachRejected',
        data: {
          basis: 'quorum',
          reason: `not confirmed by ${notConfirmed.map((f) => f.verifier).join(', ')}`,
          findings: notConfirmed.map((f) => f.eventId),
        },
      },
    ];
  }
  return [];
}

/**
 * When a quorum verdict occurs: when the finding that completed the quorum occurred. A service
 * answering an earlier finding may already see the later ones; its verdict must not predate
 * them (the warning deadline runs from the confirmation).
 */
export function verdictAt(
  state: IncidentState,
  verdict: IncidentEvent,
  quorum: number,
): { occurredAt?: string } {
  if (verdict.type !== 'BreachConfirmed' && verdict.type !== 'BreachRejected') return {};
  const counted = new Set(verdict.data.findings ?? []);
  // In stream order: the quorum-th counted finding is the one that completed the quorum.
  const completing = state.findings.filter((f) => counted.has(f.eventId))[quorum - 1];
  return completing?.at === undefined ? {} : { occurredAt: completing.at };
}
