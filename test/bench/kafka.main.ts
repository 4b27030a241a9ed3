import { createDatabase } from '@truceline/testing';
import { startThrowawayPostgres } from '../../infra/postgres/pg-test-server';
import { provideBenchKafka } from './bench-kafka';
import { breachToMinistryFeed } from './feed-latency.bench';
import { relayVsSendBatch } from './relay.bench';

/**
 * The Kafka figures alone (`node dist/test/bench/kafka.main.js [relay|feed]`, both by default),
 * for profiling them with `node --cpu-prof`: a throwaway PostgreSQL and a local broker (or
 * KAFKA_BROKERS), then the relay figure (BENCH_RUNS, BENCH_RELAY_EVENTS) and the breach → ministry
 * feed latency (BENCH_FEED_RATE, BENCH_FEED_SECONDS). BENCH_FEED_TRACE=1 starts that PostgreSQL
 * keeping commit timestamps and loading pg_stat_statements, so the feed figure cuts each notice's
 * latency at the feed entry's commit and lists the busiest statements (each costs the server a
 * little: `npm run bench` runs without).
 */
async function main(): Promise<void> {
  const which = process.argv[2] ?? 'both';
  const settings =
    process.env.BENCH_FEED_TRACE === '1'
      ? [
          'track_commit_timestamp=on',
          'shared_preload_libraries=pg_stat_statements',
          'pg_stat_statements.track_planning=on',
        ]
      : [];
  const [postgres, kafka] = await Promise.all([
    startThrowawayPostgres({ settings }),
    provideBenchKafka(),
  ]);
  const database = (name: string) => createDatabase(postgres.url, name);
  try {
    if (which !== 'feed') {
      const relay = await relayVsSendBatch(
        await database('bench_relay'),
        kafka,
        Number(process.env.BENCH_RUNS ?? 3),
      );
      console.log(JSON.stringify(relay));
      console.log(
        `relay: ${Math.round(relay.relay)} events/s, raw sendBatch: ${Math.round(relay.raw)} ` +
          `events/s, ratio ${(relay.relay / relay.raw).toFixed(2)}`,
      );
    }
    if (which !== 'relay') {
      const feed = await breachToMinistryFeed(await database('bench_feed'), kafka);
      console.log(JSON.stringify(feed));
      console.log(
        `breach → ministry feed at ${feed.rate}/s: p50 ${feed.truceline.p50.toFixed(1)} ms, ` +
          `p99 ${feed.truceline.p99.toFixed(1)} ms, ${feed.truceline.received} of ` +
          `${feed.truceline.sent} received within 10 s (${feed.truceline.late} later); ` +
          `raw Kafka p50 ${feed.raw.p50.toFixed(1)} ms, ` +
          `p99 ${feed.raw.p99.toFixed(1)} ms`,
      );
    }
  } finally {
    await kafka.stop();
    await postgres.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
