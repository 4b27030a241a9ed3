import { loadPartners } from '@truceline/config';
import {
  NotificationService,
  ServiceDefinition,
  WebhookDeliveryWorker,
  WebhookOutbox,
} from '@truceline/workflows';

/**
 * Notification as its own process (SPEC §5), fed by truceline.events.v1 in group
 * truceline.notification: issues authorized warnings, plans partner webhooks into the outbox,
 * and runs the delivery worker that sends them and records NotificationDelivered. Several
 * instances share the outbox safely: a delivery is claimed by one worker at a time.
 */
export const NOTIFICATION_PROCESS: ServiceDefinition = {
  name: 'notification',
  defaultMetricsPort: 9465,
  create: async ({ config, sql, incidents, clock }, logger) => {
    const partners = loadPartners(config.partnersFile);
    const outbox = new WebhookOutbox(sql);
    await outbox.migrate();
    const delivery = new WebhookDeliveryWorker(
      { outbox, webhooks: partners.webhooks, incidents, clock },
      { onError: (error) => logger.error({ err: error }, 'webhook delivery failed') },
    );
    const service = new NotificationService(incidents, partners.warningChannel, {
      outbox,
      webhooks: partners.webhooks,
      onPlanned: () => delivery.nudge(),
    });
    const withWebhooks = partners.webhooks.size > 0;
    return {
      handle: (event) => service.handle(event),
      start: () => (withWebhooks ? delivery.start() : undefined),
      stop: () => delivery.stop(),
    };
  },
};
