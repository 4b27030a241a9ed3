import { loadConfig } from '@truceline/config';
import { FEED_PARTNERS } from '@truceline/domain';
import { openDatabase, SqlEventStore } from '@truceline/event-store';
import {
  checkKafkaAccess,
  createKafka,
  createLogger,
  EventRelay,
  FeedRelay,
  startMetricsServer,
} from '@truceline/messaging';
import { PolicyRegistry } from '@truceline/projections';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * The relay process: publishes the log to `truceline.events.v1` and each partner's feed to
 * `truceline.feed.<partner>.v1` (SPEC §7). Start as many as you
 * like — one leads, the others stand by and take over within the lease TTL.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({
    service: 'relay',
    instance: config.serviceInstance,
    level: config.logLevel,
  });
  if (!config.kafkaBrokers?.length || !config.databaseUrl)
    throw new Error(
      'the relay needs KAFKA_BROKERS and DATABASE_URL (the store every process shares)',
    );
  const sql = await openDatabase({ databaseUrl: config.databaseUrl });
  const store = new SqlEventStore(sql);
  await store.init();
  const kafka = createKafka({
    brokers: [...config.kafkaBrokers],
    clientId: 'truceline-relay',
    logger,
    security: config.kafkaSecurity,
  });
  // Wrong credentials or an untrusted broker certificate: stop now, saying which setting.
  await checkKafkaAccess(kafka, config.kafkaSecurity);
  const relay = new EventRelay({ sql, kafka, logger });
  // The feeds are projected by the API processes; this publishes them, one leader at a time.
  const policies = new PolicyRegistry(store, { exercise: config.clock === 'exercise' });
  await policies.load();
  const feedRelay = new FeedRelay({
    sql,
    kafka,
    partners: FEED_PARTNERS(policies.current()),
    logger,
  });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'truceline_relay_lag_events',
    help: 'Events stored but not yet published (head − checkpoint)',
    registers: [registry],
    collect: async function (this: Gauge) {
      this.set(await relay.lag());
    },
  });
  new Gauge({
    name: 'truceline_feed_relay_lag_entries',
    help: 'Partner feed entries not yet published to their topics',
    registers: [registry],
    collect: async function (this: Gauge) {
      this.set(await feedRelay.lag());
    },
  });
  new Gauge({
    name: 'truceline_relay_published_events',
    help: 'Events this instance published and checkpointed',
    registers: [registry],
    collect: function (this: Gauge) {
      this.set(relay.published().events);
    },
  });
  new Gauge({
    name: 'truceline_relay_leader',
    help: '1 while this instance holds the relay lease',
    registers: [registry],
    collect: function (this: Gauge) {
      this.set(relay.isLeader() ? 1 : 0);
    },
  });
  await relay.start();
  await feedRelay.start();
  const metrics = await startMetricsServer({ registry, port: config.metricsPort ?? 9463 });
  logger.info({ metricsPort: metrics.port }, 'relay started');

  const stop = async (signal: string) => {
    logger.info({ signal }, 'relay stopping');
    await relay.stop({ release: true });
    await feedRelay.stop({ release: true });
    await metrics.close();
    await store.close();
    await sql.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('relay failed to start:', error);
  process.exit(1);
});
