import type { TrucelineConfig } from '@truceline/config';
import { FEED_PARTNERS } from '@truceline/domain';
import { openDatabase, SqlEventStore } from '@truceline/event-store';
import {
  checkKafkaAccess,
  createKafka,
  EventRelay,
  FeedRelay,
  Logger,
  readGauge,
  startMetricsServer,
} from '@truceline/messaging';
import { PolicyRegistry } from '@truceline/projections';
import { runProcessMain, StopProcess } from '@truceline/workflows';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The relay process: publishes the log to `truceline.events.v1` and each partner's feed to
 * `truceline.feed.<partner>.v1` (SPEC §7). Start as many as you
 * like — one leads, the others stand by and take over within the lease TTL.
 */
async function start(config: TrucelineConfig, logger: Logger): Promise<StopProcess> {
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
    partners: [...FEED_PARTNERS(policies.current())],
    logger,
  });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauges: [string, string, () => number | Promise<number>][] = [
    [
      'truceline_relay_lag_events',
      'Events stored but not yet published (head − checkpoint)',
      () => relay.lag(),
    ],
    [
      'truceline_feed_relay_lag_entries',
      'Partner feed entries not yet published to their topics',
      () => feedRelay.lag(),
    ],
    [
      'truceline_relay_published_events',
      'Events this instance published and checkpointed',
      () => relay.published().events,
    ],
    [
      'truceline_relay_leader',
      '1 while this instance holds the relay lease',
      () => (relay.isLeader() ? 1 : 0),
    ],
  ];
  for (const [name, help, read] of gauges) readGauge(registry, name, help, read);
  await relay.start();
  await feedRelay.start();
  const metrics = await startMetricsServer({ registry, port: config.metricsPort ?? 9463 });
  logger.info({ metricsPort: metrics.port }, 'relay started');
  return async () => {
    await relay.stop({ release: true });
    await feedRelay.stop({ release: true });
    await metrics.close();
    await store.close();
    await sql.close();
  };
}

runProcessMain('relay', process.env, start);
