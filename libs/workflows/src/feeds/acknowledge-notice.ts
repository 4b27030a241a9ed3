import { Actor, INCIDENT_TIER_CHANGED, NotFoundError, ValidationError } from '@truceline/domain';
import { FeedQueries } from '@truceline/projections';
import { IncidentCommandHandler } from '../incident-command.handler';
import { Clock, CommandResult } from '../runtime.port';

/** What a ministry may acknowledge: a tier change, a warning or a task notice. */
export const ACKNOWLEDGEABLE = new Set([
  INCIDENT_TIER_CHANGED,
  'WarningIssued',
  'CoalitionTaskAssigned',
]);

export interface NoticeReceiptDeps {
  feeds: FeedQueries;
  incidents: IncidentCommandHandler;
  clock: Clock;
}

/**
 * Records that a partner acknowledged a notice of its own feed: NoticeAcknowledged on the
 * incident's stream. The id derives from (partner, notice), so a repeat — a retry, a second
 * click, another process — appends nothing and returns the first receipt.
 */
export async function acknowledgeNotice(
  deps: NoticeReceiptDeps,
  partner: string,
  eventId: string,
  actor: Actor,
): Promise<CommandResult> {
  const entry = await deps.feeds.entry(partner, eventId);
  if (!entry) throw new NotFoundError(`no notice ${eventId} in the feed of ${partner}`);
  if (!ACKNOWLEDGEABLE.has(entry.type) || entry.incidentId === null) {
    throw new ValidationError(`${entry.type} is not a notice to acknowledge`, [
      {
        field: 'eventId',
        message: 'only a tier change, a warning or a task notice can be acknowledged',
      },
    ]);
  }
  const incidentId = entry.incidentId;
  const appended = await deps.incidents.handle(
    incidentId,
    { type: 'AcknowledgeNotice', data: { partner, eventId } },
    { actor, occurredAt: deps.clock.now().toISOString(), cause: { id: eventId } },
  );
  if (!appended) throw new Error('a receipt decided nothing');
  const stored = appended.events[0];
  return {
    incidentId,
    eventId: stored.id,
    revision: stored.revision,
    position: stored.position,
  };
}
