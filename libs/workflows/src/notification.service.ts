import {
  Actor,
  incidentIdOf,
  StoredEvent,
  WarningChannel,
  warningReactions,
} from '@truceline/domain';
import { deterministicId } from '@truceline/event-store';
import { IncidentRepository } from './incident.repository';

export const NOTIFICATION_ACTOR: Actor = { id: 'notification-service', role: 'service' };

export const DEFAULT_WARNING_CHANNEL: WarningChannel = {
  channel: 'agreed-international-channel',
  recipient: 'RU',
};

/**
 * Notification (SPEC §5): when `authorize-warning` is recorded, issues the diplomatic warning
 * through the configured agreed channel and records WarningIssued. Partner webhooks are
 * delivered by the Kafka-based notification process.
 */
export class NotificationService {
  constructor(
    private readonly incidents: IncidentRepository,
    private readonly channel: WarningChannel = DEFAULT_WARNING_CHANNEL,
  ) {}

  async handle(event: StoredEvent): Promise<void> {
    const incidentId = incidentIdOf(event.streamId);
    if (!incidentId || event.type !== 'DecisionRecorded') return;
    const reference = `DW-${incidentId.slice(0, 8)}-${event.id.slice(0, 8)}`.toUpperCase();
    await this.incidents.react(incidentId, event, NOTIFICATION_ACTOR, (state) =>
      warningReactions(state, event.id, this.channel, reference).map((e) => ({
        id: deterministicId(event.id, 'warning'),
        occurredAt: event.occurredAt,
        event: e,
      })),
    );
  }
}
