import { loadConfig, TrucelineConfig } from '@truceline/config';
import { StoredEvent } from '@truceline/domain';
import {
  ConsumedMessage,
  consumerGroupOf,
  checkKafkaAccess,
  createKafka,
  createLogger,
  EventConsumer,
  EventConsumerOptions,
  Logger,
  MetricsServer,
  startMetricsServer,
} from '@truceline/messaging';
import pino from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ServiceContext } from './service-context';

/** What a service runs on the context: its handler, and workers of its own if it has any. */
export interface ServiceWorker {
  /**
   * The events it consumes (a service that consumes must have it). Resolves once the effect is
   * durable; throws only on transient failures.
   */
  handle?(event: StoredEvent, message?: ConsumedMessage): Promise<void>;
  /** Started once the consumer has joined its group (e.g. the webhook delivery worker, a timer). */
  start?(): void | Promise<void>;
  /** Stopped after the consumer. */
  stop?(): Promise<void>;
  /** One pass now, besides its own timer, resolving once it is done (the deadline scheduler). */
  tick?(): Promise<void>;
}

/** What a service logs through: a process's pino logger, or the embedded runtime's. */
export interface ServiceLogger {
  error(fields: { err: unknown }, message: string): void;
}

/**
 * A service, declared once (SERVICES): the embedded runtime follows the store with it, and its
 * app's main.ts hands it to runServiceProcess.
 */
export interface ServiceDefinition {
  /** scheduler, verification, …: names its app, the consumer group and the logs. */
  name: string;
  /**
   * The event types it reacts to; every runner skips the others without calling it. Null: it
   * follows the clock, not the log (the deadline scheduler), so it runs no consumer.
   */
  consumes: ((type: string) => boolean) | null;
  /** METRICS_PORT when unset: one per service, so they can share a host. */
  defaultMetricsPort: number;
  create(context: ServiceContext, logger: ServiceLogger): ServiceWorker | Promise<ServiceWorker>;
}

/**
 * What a runner feeds a service the events of the log through: it skips the types the service
 * does not consume. Null for a service that follows the clock, not the log.
 */
export function eventHandlerOf(
  definition: ServiceDefinition,
  worker: ServiceWorker,
): ((event: StoredEvent, message?: ConsumedMessage) => Promise<void>) | null {
  const { consumes } = definition;
  if (!consumes) return null;
  const handle = worker.handle?.bind(worker);
  if (!handle) throw new Error(`${definition.name} consumes events but has no handler`);
  return async (event, message) => {
    if (consumes(event.type)) await handle(event, message);
  };
}

export interface StartServiceOptions {
  logger?: Logger;
  registry?: Registry;
  /** /metrics and /health port; default config.metricsPort ?? the service's own; null: none. */
  metricsPort?: number | null;
  /** Consumer settings beyond the defaults (tests give each run a topic and groups of its own). */
  consumer?: Partial<
    Pick<
      EventConsumerOptions,
      | 'topic'
      | 'groupId'
      | 'retry'
      | 'maxWaitTimeInMs'
      | 'partitionsConsumedConcurrently'
      | 'onCrash'
    >
  >;
}

/** Distributed mode needs a broker to consume from and a database every process shares. */
export class DistributedConfigError extends Error {
  readonly code = 'distributed-config';
  override name = 'DistributedConfigError';
}

/**
 * One service as a process: its context, its consumer in group `truceline.<name>`, its workers
 * and its metrics endpoint. Also started in-process by tests, several per process.
 */
export class RunningService {
  private stopped: Promise<void> | null = null;

  private constructor(
    readonly name: string,
    readonly context: ServiceContext,
    /** Null for a service that follows the clock, not the log. */
    readonly consumer: EventConsumer | null,
    private readonly worker: ServiceWorker,
    private readonly metrics: MetricsServer | null,
    private readonly logger: Logger,
  ) {}

  static async start(
    definition: ServiceDefinition,
    config: TrucelineConfig,
    options: StartServiceOptions = {},
  ): Promise<RunningService> {
    const brokers = config.kafkaBrokers ?? [];
    if (!definition.consumes && !config.databaseUrl) {
      throw new DistributedConfigError(
        `${definition.name} runs as a process of its own: it needs DATABASE_URL (a PostgreSQL ` +
          'server shared with the API; the embedded PGlite store serves a single process). ' +
          'Without Kafka, `npm start` runs it inside the API.',
      );
    }
    if (definition.consumes && (brokers.length === 0 || !config.databaseUrl)) {
      throw new DistributedConfigError(
        `${definition.name} runs as a service process: it needs KAFKA_BROKERS (it consumes the ` +
          'events the relay publishes) and DATABASE_URL (a PostgreSQL server shared with the API; ' +
          'the embedded PGlite store serves a single process). Without Kafka, `npm start` runs ' +
          'every service inside the API.',
      );
    }
    const logger = options.logger ?? pino({ enabled: false });
    const registry = options.registry ?? new Registry();
    const context = await ServiceContext.open(config, {
      onError: (message, error) => logger.error({ err: error }, message),
      onWarning: (message) => logger.warn(message),
    });
    let consumer: EventConsumer | null = null;
    let worker: ServiceWorker | undefined;
    try {
      const kafka = definition.consumes
        ? createKafka({
            brokers: [...brokers],
            clientId: `truceline-${definition.name}`,
            logger,
            security: config.kafkaSecurity,
          })
        : null;
      // Wrong credentials or an untrusted broker certificate: stop now, saying which setting.
      if (kafka) await checkKafkaAccess(kafka, config.kafkaSecurity);
      worker = await definition.create(context, logger);
      const handle = eventHandlerOf(definition, worker);
      if (kafka && handle) {
        consumer = await EventConsumer.start({
          groupId: consumerGroupOf(definition.name),
          ...options.consumer,
          kafka,
          sql: context.sql,
          logger,
          registry,
          handler: async (event, message) => {
            // A policy adopted while running applies to the next reactions (SPEC §3).
            context.policies.apply(event);
            await handle(event, message);
          },
        });
      }
      await worker.start?.();
      const port =
        options.metricsPort === undefined
          ? (config.metricsPort ?? definition.defaultMetricsPort)
          : options.metricsPort;
      const running = consumer;
      const metrics =
        port === null
          ? null
          : await startMetricsServer({ registry, port, ready: () => running?.isRunning ?? true });
      return new RunningService(definition.name, context, consumer, worker, metrics, logger);
    } catch (error) {
      await consumer?.stop().catch(() => undefined);
      await worker?.stop?.().catch(() => undefined);
      await context.close().catch(() => undefined);
      throw error;
    }
  }

  /** The port of /metrics and /health, when served. */
  get metricsPort(): number | null {
    return this.metrics?.port ?? null;
  }

  /** Finishes the message in flight, then stops the workers, the endpoint and the context. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      await this.consumer?.stop();
      await this.worker.stop?.();
      await this.metrics?.close();
      await this.context.close();
      this.logger.info('stopped');
    })();
    return this.stopped;
  }
}

/** Give up on a graceful stop after this long: the in-flight message stays uncommitted. */
const STOP_TIMEOUT_MS = 30_000;

/**
 * The whole of a service's main.ts: validate the environment, log JSON with `service` and
 * `instance`, serve metrics, consume until SIGTERM or SIGINT, then stop gracefully. A consumer
 * that kafkajs gives up on ends the process (exit 1) for its supervisor to restart.
 */
export async function runServiceProcess(
  definition: ServiceDefinition,
  env: Record<string, string | undefined>,
): Promise<void> {
  let config: TrucelineConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    console.error(`[${definition.name}] ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
  const logger = createLogger({
    service: definition.name,
    instance: config.serviceInstance,
    level: config.logLevel,
  });
  const registry = new Registry();
  registry.setDefaultLabels({ service: definition.name });
  collectDefaultMetrics({ register: registry });

  let service: RunningService | undefined;
  let stopping = false;
  const shutdown = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping');
    setTimeout(() => {
      logger.error('graceful stop timed out');
      process.exit(1);
    }, STOP_TIMEOUT_MS).unref();
    try {
      await service?.stop();
    } catch (error) {
      logger.error({ err: error }, 'stop failed');
      code = 1;
    }
    process.exit(code);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));

  try {
    service = await RunningService.start(definition, config, {
      logger,
      registry,
      consumer: {
        onCrash: (_error, restart) => {
          if (!restart) void shutdown('the consumer crashed and kafkajs gave up on it', 1);
        },
      },
    });
  } catch (error) {
    logger.fatal({ err: error }, `${definition.name} failed to start`);
    process.exit(1);
  }
  logger.info(
    {
      group: definition.consumes ? consumerGroupOf(definition.name) : null,
      metricsPort: service.metricsPort,
      clock: config.clock,
    },
    definition.consumes ? `${definition.name} consuming` : `${definition.name} started`,
  );
}
