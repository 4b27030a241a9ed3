import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase, SqlEventStore } from '@truceline/event-store';
import {
  createKafka,
  ensureTopics,
  EVENTS_SOURCE,
  EventRelay,
  toKafkaMessage,
  useOnePassProduceEncoding,
} from '@truceline/messaging';
import { insertGeneratedHistory } from '@truceline/testing';
import { Partitioners } from 'kafkajs';
import { BenchKafka, processCpu } from './bench-kafka';
import { postgresCpu, postmasterOf } from './postgres-cpu';

/** Events relayed per run: BENCH_RELAY_EVENTS (default 20,000: 2,000 generated incidents). */
export const RELAY_EVENTS = Number(process.env.BENCH_RELAY_EVENTS ?? 20_000);
/** Partitions of each topic, as the relay creates its topics by default. */
const PARTITIONS = 12;

interface Cpu {
  node: number;
  postgres: number;
  kafka: number;
}

export interface RelayFigures {
  events: number;
  /** Messages per Kafka transaction, on both sides. */
  batchSize: number;
  /** Events per second, medians of the runs. */
  relay: number;
  raw: number;
  runs: { relay: number; raw: number }[];
  /**
   * CPU time per relayed event, in µs, over all runs: the bench's Node process (the relay or the
   * raw producer), the PostgreSQL server and the Kafka broker (each when it runs here).
   */
  cpuPerEvent: { relay: Cpu; raw: Cpu };
}

/**
 * Relay to Kafka against raw kafkajs `sendBatch` of the same messages, run by run on one
 * database and one broker, alternating which goes first.
 *
 * Each run writes a backlog of `events` generated events (ten per incident, in one transaction)
 * behind a relay that leads and is idle, then wakes it and times it until its checkpoint reaches
 * the backlog's last position: reading the log, building the CloudEvents messages, one Kafka
 * transaction per batch and the checkpoint moved under the lease after each. The baseline sends
 * the same messages (built beforehand, outside its timing) with `sendBatch` in batches of the
 * relay's size, one after the other, through a producer with the relay's acks (all replicas),
 * idempotence, one request in flight and partitioner, to a topic of its own with as many
 * partitions; without transactions, which are the relay's own cost (its guarantees: nothing
 * published by a fenced leader, no checkpoint ahead of the broker).
 */
export async function relayVsSendBatch(
  url: string,
  broker: BenchKafka,
  runs: number,
  events = RELAY_EVENTS,
): Promise<RelayFigures> {
  const sql = await openDatabase({ databaseUrl: url });
  const store = new SqlEventStore(sql);
  await store.init();
  const kafka = createKafka({ brokers: broker.brokers, clientId: 'bench-relay' });
  const postmaster = await postmasterOf(sql);
  const cpu = { relay: zero(), raw: zero() };
  const results: { relay: number; raw: number }[] = [];
  let batchSize = 0;
  try {
    for (let run = 0; run < runs; run++) {
      const id = randomUUID().slice(0, 8);
      const relayTopic = `bench.relay.${id}`;
      const rawTopic = `bench.raw.${id}`;
      await ensureTopics(kafka, [relayTopic, rawTopic], { numPartitions: PARTITIONS });
      const head = await store.headPosition();
      const relay = new EventRelay({
        sql,
        kafka,
        topic: relayTopic,
        transactionalId: `bench-relay.${id}`,
        // Only the wake below starts it: the backlog is written while it idles.
        pollIntervalMs: 3_600_000,
      });
      batchSize = relay.batchSize;
      await store.writeCheckpoint(relay.checkpointName, head);
      await relay.start();
      try {
        await until(() => relay.published().takeovers > 0, 30_000, 'the relay to lead');
        const last = await sql.transaction((tx) =>
          insertGeneratedHistory(tx, Math.ceil(events / 10)),
        );
        const backlog = last - head;
        const messages = (await readRange(store, head, last)).map((event) =>
          toKafkaMessage(event, { source: EVENTS_SOURCE }),
        );
        const producer = kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          createPartitioner: Partitioners.DefaultPartitioner,
        });
        await producer.connect();
        const timeRelay = () =>
          measured(cpu.relay, broker.pid, postmaster, backlog, async () => {
            relay.wake();
            await until(() => relay.published().position >= last, 300_000, 'the relay to drain');
          });
        // The baseline is kafkajs as it comes: its own encoder, not the relay's one-pass one.
        const timeRaw = () =>
          measured(cpu.raw, broker.pid, postmaster, backlog, async () => {
            useOnePassProduceEncoding(false);
            try {
              for (let i = 0; i < messages.length; i += batchSize) {
                await producer.sendBatch({
                  topicMessages: [{ topic: rawTopic, messages: messages.slice(i, i + batchSize) }],
                  acks: -1,
                });
              }
            } finally {
              useOnePassProduceEncoding(true);
            }
          });
        let relayRate: number;
        let rawRate: number;
        if (run % 2 === 0) {
          relayRate = await timeRelay();
          rawRate = await timeRaw();
        } else {
          rawRate = await timeRaw();
          relayRate = await timeRelay();
        }
        await producer.disconnect();
        results.push({ relay: relayRate, raw: rawRate });
      } finally {
        await relay.stop();
      }
    }
  } finally {
    await store.close();
    await sql.close();
  }
  const mid = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
  const perEvent = (c: Cpu): Cpu => ({
    node: c.node / (events * runs),
    postgres: c.postgres / (events * runs),
    kafka: c.kafka / (events * runs),
  });
  return {
    events,
    batchSize,
    relay: mid(results.map((r) => r.relay)),
    raw: mid(results.map((r) => r.raw)),
    runs: results,
    cpuPerEvent: { relay: perEvent(cpu.relay), raw: perEvent(cpu.raw) },
  };
}

const zero = (): Cpu => ({ node: 0, postgres: 0, kafka: 0 });

/** Times `work`, adding the CPU it cost to `into`; resolves to `count` per second. */
async function measured(
  into: Cpu,
  kafkaPid: number | null,
  postmaster: number | null,
  count: number,
  work: () => Promise<void>,
): Promise<number> {
  const node = process.cpuUsage();
  const [pg, broker] = await Promise.all([postgresCpu(postmaster), processCpu(kafkaPid)]);
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(node);
  const [pgAfter, brokerAfter] = await Promise.all([postgresCpu(postmaster), processCpu(kafkaPid)]);
  into.node += used.user + used.system;
  into.postgres += (pgAfter ?? 0) - (pg ?? 0);
  into.kafka += (brokerAfter ?? 0) - (broker ?? 0);
  return count / seconds;
}

async function readRange(store: SqlEventStore, after: number, last: number) {
  const events = [];
  for (let position = after; position < last;) {
    const page = await store.readAll({ after: position, until: last, limit: 5_000 });
    if (page.length === 0) throw new Error(`the log stops at ${position}, before ${last}`);
    events.push(...page);
    position = page[page.length - 1].position;
  }
  return events;
}

/** Polls `condition` every 2 ms until it holds. */
async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}
