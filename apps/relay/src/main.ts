import { loadConfig } from '@truceline/config';
import { openDatabase, SqlEventStore } from '@truceline/event-store';
import { createKafka, createLogger, EventRelay, startMetricsServer } from '@truceline/messaging';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * The relay process: publishes the log to `truceline.events.v1` (SPEC §7). Start as many as you
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
  const relay = new EventRelay({
    sql,
    kafka: createKafka({ brokers: [...config.kafkaBrokers], clientId: 'truceline-relay', logger }),
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
  const metrics = await startMetricsServer({ registry, port: config.metricsPort ?? 9463 });
  logger.info({ metricsPort: metrics.port }, 'relay started');

  const stop = async (signal: string) => {
    logger.info({ signal }, 'relay stopping');
    await relay.stop({ release: true });
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
