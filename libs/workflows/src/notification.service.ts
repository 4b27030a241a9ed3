import { DEFAULT_WARNING_CHANNEL, PartnerWebhook } from '@truceline/config';
import { Actor, incidentIdOf, StoredEvent, WarningChannel } from '@truceline/domain';
import { IncidentCommandHandler } from './incident-command.handler';
import { planDeliveries } from './notification/delivery-plan';
import { WebhookOutbox } from './notification/webhook-outbox';
import { causeOf } from './reaction';

export const NOTIFICATION_ACTOR: Actor = { id: 'notification-service', role: 'service' };

export { DEFAULT_WARNING_CHANNEL };

/** What planning partner webhooks needs; without it the service only issues warnings. */
export interface NotificationWebhooks {
  outbox: WebhookOutbox;
  webhooks: ReadonlyMap<string, PartnerWebhook>;
  /** Called when new deliveries were planned (e.g. to nudge the delivery worker). */
  onPlanned?: () => void;
}

/** Events that change nothing a notice is planned from: no need to fold the incident again. */
const NOTHING_TO_PLAN = new Set(['NotificationDelivered', 'NoticeAcknowledged']);

/**
 * Notification (SPEC §5): when `authorize-warning` is recorded, issues the diplomatic warning
 * through the configured agreed channel and records WarningIssued. After an incident's events it
 * plans partner webhooks into the outbox (every tier reached to every partner, each task to its
 * member, each warning to every partner); the WebhookDeliveryWorker sends them and records
 * NotificationDelivered. Both effects are idempotent, so redelivered events are harmless.
 */
export class NotificationService {
  /** Every incident event but those that change nothing a notice is planned from. */
  static consumes(type: string): boolean {
    return !NOTHING_TO_PLAN.has(type);
  }

  constructor(
    private readonly incidents: IncidentCommandHandler,
    private readonly channel: WarningChannel = DEFAULT_WARNING_CHANNEL,
    private readonly webhooks: NotificationWebhooks | null = null,
  ) {}

  async handle(event: StoredEvent): Promise<void> {
    const incidentId = incidentIdOf(event.streamId);
    if (!incidentId) return;
    if (event.type === 'DecisionRecorded') await this.issueWarning(incidentId, event);
    if (this.webhooks && !NOTHING_TO_PLAN.has(event.type)) {
      await this.plan(incidentId, this.webhooks);
    }
  }

  private async issueWarning(incidentId: string, event: StoredEvent): Promise<void> {
    const reference = `DW-${incidentId.slice(0, 8)}-${event.id.slice(0, 8)}`.toUpperCase();
    await this.incidents.react(
      incidentId,
      { type: 'IssueWarning', data: { ...this.channel, decisionEventId: event.id, reference } },
      { actor: NOTIFICATION_ACTOR, occurredAt: event.occurredAt, cause: causeOf(event) },
    );
  }

  private async plan(
    incidentId: string,
    { outbox, webhooks, onPlanned }: NotificationWebhooks,
  ): Promise<void> {
    if (webhooks.size === 0) return;
    const { state, events } = await this.incidents.load(incidentId);
    if (state.status === 'none') return;
    const added = await outbox.add(planDeliveries(incidentId, state, events, webhooks));
    if (added > 0) onPlanned?.();
  }
}
