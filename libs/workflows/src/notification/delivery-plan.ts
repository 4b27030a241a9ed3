import type { PartnerWebhook } from '@truceline/config';
import {
  INCIDENT_TIER_CHANGED,
  IncidentEventDataMap,
  IncidentState,
  isReleasable,
  NOTIFICATION_SUBJECTS,
  PartnerCode,
  StoredEvent,
} from '@truceline/domain';
import { deterministicId } from '@truceline/event-store';

export type NotificationSubject = (typeof NOTIFICATION_SUBJECTS)[number];

/** The JSON body a partner's webhook receives. */
export interface WebhookNotice {
  deliveryId: string;
  incidentId: string;
  subject: NotificationSubject;
  tier?: number;
  taskId?: string;
  member?: PartnerCode;
  capability?: string;
  dueAt?: string;
  warning?: { channel: string; recipient: string; reference: string };
  /** When what the notice reports happened. */
  occurredAt: string;
  exercise: boolean;
}

/** One notice to one partner, as stored in the outbox. */
export interface PlannedDelivery {
  deliveryId: string;
  incidentId: string;
  partner: PartnerCode;
  subject: NotificationSubject;
  tier?: number;
  /** What the notice is about within its subject: the tier, the task id or the warning's event id. */
  ref: string;
  url: string;
  /** Serialized once at planning, so every retry sends (and signs) the same bytes. */
  body: string;
  /** The event the notice reports, and its correlation id, for NotificationDelivered's metadata. */
  causationId: string;
  correlationId: string;
}

/**
 * Every webhook notice an incident calls for (SPEC §5): each tier reached to every partner with a
 * webhook, each coalition task to its member, each warning issued to every partner. Pure and
 * complete: it plans the whole incident each time, and the delivery id
 * `deterministicId(incidentId, subject, tier | taskId | warningEventId, partner)` makes planning
 * again (a redelivered event, a restart, a second instance) insert nothing new.
 */
export function planDeliveries(
  incidentId: string,
  state: IncidentState,
  events: readonly StoredEvent[],
  webhooks: ReadonlyMap<string, PartnerWebhook>,
): PlannedDelivery[] {
  const byId = new Map(events.map((e) => [e.id, e]));
  const correlationOf = (eventId: string) => byId.get(eventId)?.metadata.correlationId ?? eventId;
  const plans: PlannedDelivery[] = [];
  const add = (
    webhook: PartnerWebhook,
    ref: string,
    causationId: string,
    notice: Omit<WebhookNotice, 'deliveryId' | 'incidentId' | 'exercise'>,
    about: { type: string; data: unknown },
  ) => {
    // A webhook never tells a partner more than its feed would: the one visibility rule decides.
    if (!isReleasable(about, webhook.partner, state)) return;
    const deliveryId = deterministicId(incidentId, notice.subject, ref, webhook.partner);
    const body: WebhookNotice = { deliveryId, incidentId, ...notice, exercise: state.exercise };
    plans.push({
      deliveryId,
      incidentId,
      partner: webhook.partner,
      subject: notice.subject,
      tier: notice.tier,
      ref,
      url: webhook.webhookUrl,
      body: JSON.stringify(body),
      causationId,
      correlationId: correlationOf(causationId),
    });
  };

  for (const change of state.tierHistory) {
    for (const webhook of webhooks.values()) {
      add(
        webhook,
        String(change.tier),
        change.causedBy,
        {
          subject: 'tier-change',
          tier: change.tier,
          occurredAt: change.at,
        },
        { type: INCIDENT_TIER_CHANGED, data: change },
      );
    }
  }
  for (const event of events) {
    if (event.type === 'CoalitionTaskAssigned') {
      const task = event.data as IncidentEventDataMap['CoalitionTaskAssigned'];
      const webhook = webhooks.get(task.member);
      if (!webhook) continue;
      add(
        webhook,
        task.taskId,
        event.id,
        {
          subject: 'task',
          tier: task.tier,
          taskId: task.taskId,
          member: task.member,
          capability: task.capability,
          dueAt: task.dueAt,
          occurredAt: event.occurredAt,
        },
        event,
      );
    } else if (event.type === 'WarningIssued') {
      const { channel, recipient, reference } = event.data as IncidentEventDataMap['WarningIssued'];
      for (const webhook of webhooks.values()) {
        add(
          webhook,
          event.id,
          event.id,
          {
            subject: 'warning',
            warning: { channel, recipient, reference },
            occurredAt: event.occurredAt,
          },
          event,
        );
      }
    }
  }
  return plans;
}
