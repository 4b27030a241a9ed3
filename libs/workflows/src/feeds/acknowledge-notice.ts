import {
  Actor,
  INCIDENT_TIER_CHANGED,
  incidentStreamId,
  NotFoundError,
  ValidationError,
} from '@truceline/domain';
import { deterministicId, EventStore } from '@truceline/event-store';
import { FeedQueries } from '@truceline/projections';
import { IncidentRepository } from '../incident.repository';
import { Clock, CommandResult } from '../runtime.port';

/** What a ministry may acknowledge: a tier change, a warning or a task notice. */
export const ACKNOWLEDGEABLE = new Set([
  INCIDENT_TIER_CHANGED,
  'WarningIssued',
  'CoalitionTaskAssigned',
]);

export interface NoticeReceiptDeps {
  feeds: FeedQueries;
  store: EventStore;
  incidents: IncidentRepository;
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
  if (!ACKNOWLEDGEABLE.has(entry.type)) {
    throw new ValidationError(`${entry.type} is not a notice to acknowledge`, [
      {
        field: 'eventId',
        message: 'only a tier change, a warning or a task notice can be acknowledged',
      },
    ]);
  }
  const id = deterministicId(partner.toUpperCase(), eventId, 'ack');
  const { events } = await deps.store.append(
    incidentStreamId(entry.incidentId),
    [
      {
        id,
        type: 'NoticeAcknowledged',
        occurredAt: deps.clock.now().toISOString(),
        data: { partner: partner.toUpperCase(), eventId },
        metadata: deps.incidents.metadata(actor, id, eventId),
      },
    ],
    { expectedRevision: 'any' },
  );
  const stored = events.find((e) => e.id === id) ?? events[0];
  return {
    incidentId: entry.incidentId,
    eventId: stored.id,
    revision: stored.revision,
    position: stored.position,
  };
}
