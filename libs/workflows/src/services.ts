import { loadPartners } from '@truceline/config';
import { StoredEvent } from '@truceline/domain';
import { ExerciseClock } from './clock';
import { CoalitionTaskingService } from './coalition-tasking.service';
import { DeadlineScheduler } from './deadline.scheduler';
import { IncidentCommandHandler } from './incident-command.handler';
import type { ServiceDefinition } from './distributed/service-process';
import { NotificationService } from './notification.service';
import { WebhookDeliveryWorker } from './notification/webhook-delivery.worker';
import { WebhookOutbox } from './notification/webhook-outbox';
import { VerificationService } from './verification.service';

/** A service whose rule turns the causes it reacts to into commands, and nothing else. */
interface ReactingService {
  readonly reactsTo: ReadonlySet<string>;
  new (incidents: IncidentCommandHandler): { handle(event: StoredEvent): Promise<void> };
}

function reacting(
  name: string,
  defaultMetricsPort: number,
  Service: ReactingService,
): ServiceDefinition {
  return {
    name,
    defaultMetricsPort,
    consumes: (type) => Service.reactsTo.has(type),
    create: ({ incidents }) => {
      const service = new Service(incidents);
      return { handle: (event) => service.handle(event) };
    },
  };
}

/**
 * The services, declared once. The embedded runtime runs each of them (a consuming one on a
 * store subscription of its name); in distributed mode each runs as `apps/service <name>`, a
 * consuming one in consumer group `truceline.<name>`, and start:distributed, the e2e topology
 * and docker-compose.yml take the list from PROCESSES.
 */
export const SERVICES: readonly ServiceDefinition[] = [
  {
    name: 'scheduler',
    defaultMetricsPort: 9467,
    // Follows the clock, not the log: it asks the incident views what fell due. Several may run:
    // a DeadlineMissed id derives from incident and obligation, so each is recorded once.
    consumes: null,
    create: ({ incidents, views, clock }, logger) => {
      const scheduler = new DeadlineScheduler(incidents, views, clock, (error) =>
        logger.error({ err: error }, 'deadline pass failed'),
      );
      // A move of the exercise clock (made through any process) is looked at once.
      const onAdvanced = () => void scheduler.tick();
      return {
        start: () => {
          if (clock instanceof ExerciseClock) clock.on('advanced', onAdvanced);
          scheduler.start();
        },
        stop: async () => {
          if (clock instanceof ExerciseClock) clock.off('advanced', onAdvanced);
          await scheduler.stop();
        },
        tick: () => scheduler.tick(),
      };
    },
  },
  reacting('verification', 9464, VerificationService),
  {
    name: 'notification',
    defaultMetricsPort: 9465,
    consumes: (type) => NotificationService.consumes(type),
    // Issues authorized warnings, plans partner webhooks into the outbox, and runs the delivery
    // worker that sends them. Several instances share the outbox: a row is claimed by one.
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
  },
  reacting('coalition-tasking', 9466, CoalitionTaskingService),
];

export function serviceNamed(name: string | undefined): ServiceDefinition {
  const service = SERVICES.find((s) => s.name === name);
  if (!service)
    throw new Error(
      `no service ${name ?? '(none)'}: one of ${SERVICES.map((s) => s.name).join(', ')}`,
    );
  return service;
}

/** A process of distributed mode: its built entry, its arguments and its metrics port. */
export interface ProcessPart {
  name: string;
  entry: string;
  /** After the entry: a service process takes the name of its definition. */
  args: readonly string[];
  metricsPort: number | null;
  /** Consumes truceline.events.v1 in group truceline.<name>. */
  consumer: boolean;
}

/**
 * Every process of distributed mode, in start order: the API first (its migrations and policy
 * adoption precede the others'), the relay (it creates the topics), then every service of
 * SERVICES.
 */
export const PROCESSES: readonly ProcessPart[] = [
  { name: 'api', entry: 'apps/api/src/main.js', args: [], metricsPort: null, consumer: false },
  { name: 'relay', entry: 'apps/relay/src/main.js', args: [], metricsPort: 9463, consumer: false },
  ...SERVICES.map((s) => ({
    name: s.name,
    entry: 'apps/service/src/main.js',
    args: [s.name],
    metricsPort: s.defaultMetricsPort,
    consumer: s.consumes !== null,
  })),
];
