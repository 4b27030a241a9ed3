import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Actor,
  EventMetadata,
  FEED_PARTNERS,
  incidentStreamId,
  NewEvent,
  POLICY_V1,
} from '@truceline/domain';
import { openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import { createKafka, ensureTopics, EVENTS_TOPIC, feedTopic } from '@truceline/messaging';
import { feedEntriesSql } from '@truceline/projections';
import { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { freePort } from '../support/free-port';
import { ensureBuiltEntries, ProcessGroup } from '../support/process-group';
import { BenchKafka, processCpu } from './bench-kafka';
import { postgresCpu, postgresCpuByProcess, postmasterOf } from './postgres-cpu';
import { percentiles, summariseArrivals } from './load';

/** The ministry whose feed the figure reads (any partner gets every IncidentTierChanged). */
const MINISTRY = 'PL';
const TIER_CHANGED = 'truceline.IncidentTierChanged.v1';
const JWT_SECRET = 'bench-secret-bench-secret-bench-secret';

/** BreachConfirmed per second (BENCH_FEED_RATE, default 500) for BENCH_FEED_SECONDS (60). */
export const FEED_RATE = Number(process.env.BENCH_FEED_RATE ?? 500);
export const FEED_SECONDS = Number(process.env.BENCH_FEED_SECONDS ?? 60);
/** The raw Kafka baseline's length: a floor needs less time than the figure (default 5 s). */
const BASELINE_SECONDS = Number(process.env.BENCH_FEED_BASELINE_SECONDS ?? 5);
/** After the last send, how long a notice may still arrive before it counts as never. */
const DRAIN_MS = 10_000;
/** How long the CPU count waits after that for every stage to catch up. */
const DRAIN_CPU_MS = 180_000;
/**
 * Seconds of BreachConfirmed at the figure's rate before it is measured (BENCH_FEED_WARMUP_SECONDS,
 * default 30), to incidents of their own, then a wait until every stage has caught up: see
 * `warmUp` in FeedLatencyFigures. Long enough for a broker the bench has just started as well:
 * after 5 s its JIT was still compiling through the measured minute (its CPU per breach 665–854
 * µs there, against 609–614 after 30 s and 535 on a broker kept from an earlier run).
 */
const WARMUP_SECONDS = Number(process.env.BENCH_FEED_WARMUP_SECONDS ?? 30);
/** The stages' timeline: one sample per this many ms from the first send (default 5 s). */
const TIMELINE_MS = Number(process.env.BENCH_FEED_TIMELINE_MS ?? 5_000);

export interface LatencyRun {
  /**
   * Sends scheduled (one per 1/rate s) and, of those, the notices received by the ministry within
   * 10 s of the last send.
   */
  sent: number;
  received: number;
  /**
   * Milliseconds from each scheduled send to the ministry's consumer; one not received within
   * 10 s of the last send counts as ∞.
   */
  p50: number;
  p99: number;
  max: number;
}

export interface FeedLatencyFigures {
  rate: number;
  seconds: number;
  /** Scheduled BreachConfirmed → IncidentTierChanged in the ministry's consumer. */
  truceline: LatencyRun & {
    /** Scheduled → the append returned (the store's share of the latency). */
    append: { p50: number; p99: number };
    /**
     * Notices that reached the ministry after the 10 s (while the stages drained), counted as
     * never received above: a run that fell behind, as against one that lost notices.
     */
    late: number;
  };
  /**
   * The warm-up before the measurement, measured the same way: the figure of processes just
   * started, against a broker that may be too (the bench starts one unless KAFKA_BROKERS names
   * one). Their first seconds interpret code their compilers have not yet optimised and take
   * CPU for compiling it, on a machine the pipeline at 500/s nearly fills.
   */
  warmUp: LatencyRun & { seconds: number };
  /** Where the time goes: how far each stage fell behind, and the CPU each process used. */
  stages: Stages;
  /**
   * The commit markers the relays' transactions wrote over the measurement: in the ministry's
   * feed (its one partition: one per feed relay transaction, as every breach reaches every
   * feed), and in the events topic (one per partition a transaction wrote to). The records
   * added to each topic less the messages in them.
   */
  markers: { ministryFeed: number; events: number };
  /** Where each notice's latency went, stage by stage (see StageLatencies). */
  latencyByStage: StageLatencies;
  /**
   * The statements that took the server longest over the run, when it loads
   * pg_stat_statements (`shared_preload_libraries`): total ms, calls, rows.
   */
  statements?: { query: string; ms: number; planMs: number; calls: number; rows: number }[];
  /**
   * The floor: a kafkajs producer with the relay's acks and idempotence sending one message per
   * scheduled send, at the same pace, to a consumer (read committed) in this process; after the
   * warm-up, on the broker the measured minute then uses; when it started (ISO) and its worst
   * latency in each second of its sends (ms).
   */
  raw: LatencyRun & { startedAt: string; maxBySecond: number[] };
}

/**
 * End to end, as a ministry sees it: BreachConfirmed appended to the log → IncidentTierChanged
 * received by a consumer of the partner's feed topic, with the processes of distributed mode in
 * between: the API process (its partner-feed projection, from the log) and the relay process
 * (the feed relay, to Kafka), each `node dist/…` against the same PostgreSQL and broker.
 *
 * Open loop: send i is scheduled at start + i/rate and fired when its time comes, whether the
 * earlier ones have finished or not; latencies count from the scheduled time, so a system that
 * falls behind shows its queueing rather than slowing the sender (no coordinated omission).
 * Each BreachConfirmed goes to an incident reported beforehand (written straight into the log
 * before the processes start, then projected and relayed before the measurement).
 */
export async function breachToMinistryFeed(
  url: string,
  broker: BenchKafka,
  rate = FEED_RATE,
  seconds = FEED_SECONDS,
): Promise<FeedLatencyFigures> {
  ensureBuiltEntries(['apps/api/src/main.js', 'apps/relay/src/main.js']);
  const sql = await openDatabase({ databaseUrl: named(url, 'bench'), poolSize: 8 });
  const store = new SqlEventStore(sql);
  await store.init();
  const kafka = createKafka({ brokers: broker.brokers, clientId: 'bench-ministry' });
  const group = new ProcessGroup();
  const postmasterPid = await postmasterOf(sql);
  const consumers: Consumer[] = [];
  try {
    const incidents = Array.from({ length: Math.ceil(rate * seconds) }, () => randomUUID());
    const warmUp = randomUUID();
    const warmUps = Array.from({ length: Math.ceil(rate * WARMUP_SECONDS) }, () => randomUUID());
    await seedReports(sql, [...incidents, warmUp, ...warmUps]);
    await startProcesses(group, url, broker.brokers.join(','), () => publishedAlready(sql));
    await relayedEverything(sql, 60_000);

    const scheduledAt = new Map<string, number>();
    const latencies = new Map<string, number>();
    const trace = new Map<string, Trace>();
    const ministryMessages = { n: 0 };
    const ministry = await ministryConsumer(kafka, consumers, feedTopic(MINISTRY), (message) => {
      ministryMessages.n += 1;
      if (header(message, 'ce_type') !== TIER_CHANGED) return;
      const incident = message.key?.toString() ?? '';
      const at = scheduledAt.get(incident);
      if (at !== undefined && !latencies.has(incident)) {
        const now = performance.now();
        latencies.set(incident, now - at);
        const traced = trace.get(incident);
        if (traced) {
          // The record's timestamp: when the relay's producer encoded it (epoch ms).
          traced.produced = Number(message.timestamp) - performance.timeOrigin;
          traced.received = now;
        }
      }
    });
    // With the trace on, a consumer reading uncommitted records too: when each notice reached
    // the broker's log, before its transaction committed.
    if (process.env.BENCH_FEED_TRACE === '1')
      await ministryConsumer(
        kafka,
        consumers,
        feedTopic(MINISTRY),
        (message) => {
          if (header(message, 'ce_type') !== TIER_CHANGED) return;
          const traced = trace.get(message.key?.toString() ?? '');
          if (traced && traced.inLog === undefined) traced.inLog = performance.now();
        },
        { readUncommitted: true },
      );
    // The checkpoints at the heads say nothing of whether the relay leads yet (its producer
    // connected, its transactional id initialised, the feed topics made): one breach first,
    // through every stage to the ministry, so the measurement starts with the pipeline live.
    scheduledAt.set(warmUp, performance.now());
    await store.append(incidentStreamId(warmUp), [confirmed()], { expectedRevision: 0 });
    await waitForAll(() => latencies.has(warmUp), 120_000);
    if (!latencies.has(warmUp)) throw new Error('the warm-up breach never reached the ministry');
    latencies.delete(warmUp);
    // Then a few seconds at the rate, so the measurement starts with every process's code
    // compiled for the work it does, and every stage caught up again.
    const warmUpFailures: unknown[] = [];
    await paced(rate, WARMUP_SECONDS, (i, at) => {
      scheduledAt.set(warmUps[i], at);
      store
        .append(incidentStreamId(warmUps[i]), [confirmed()], { expectedRevision: 0 })
        .catch((error: unknown) => warmUpFailures.push(error));
    });
    await waitForAll(
      () => warmUps.every((incident) => latencies.has(incident)) || warmUpFailures.length > 0,
      DRAIN_MS,
    );
    if (warmUpFailures.length > 0)
      throw new Error(`a warm-up append failed: ${String(warmUpFailures[0])}`);
    const warmUpRun = { seconds: WARMUP_SECONDS, ...summariseArrivals(warmUps, latencies) };
    // A warm-up that did not drain in time still has notices on their way: forgetting its send
    // times leaves them unmatched when they arrive during the measured minute, so they are
    // neither counted in it nor taken for the measured breaches' notices.
    scheduledAt.clear();
    latencies.clear();
    await relayedEverything(sql, 120_000);
    // The floor on the same broker as warm as the measured minute finds it (its transactions and
    // fetches compiled by the warm-up), the API and the relay idle beside it: measured first on
    // a broker just started, its p99 was that broker's JIT (65–140 ms, against 11 ms warm).
    const raw = await rawLatency(kafka, consumers, rate, Math.min(BASELINE_SECONDS, seconds));
    const appendLatencies: number[] = [];
    const failures: unknown[] = [];
    // The statements' counts from here on (when the server loads pg_stat_statements).
    await sql
      .query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
      .then(() => sql.query('SELECT pg_stat_statements_reset()'))
      .catch(() => undefined);
    const recordsBefore = await topicRecords(kafka, sql);
    const messagesBefore = ministryMessages.n;
    const watch = watchStages(sql, group, broker.pid, postmasterPid);
    const loopDelay = watchLoopDelay();
    await paced(rate, seconds, (i, at) => {
      const incident = incidents[i];
      scheduledAt.set(incident, at);
      const traced: Trace = { scheduled: at };
      trace.set(incident, traced);
      store
        .append(incidentStreamId(incident), [confirmed()], { expectedRevision: 0 })
        .then(() => {
          traced.appended = performance.now();
          appendLatencies.push(traced.appended - at);
        })
        .catch((error: unknown) => failures.push(error));
    });
    await waitForAll(() => latencies.size + failures.length >= incidents.length, DRAIN_MS);
    // The figure as of 10 s after the last send (the stages' drain below may take minutes more):
    // a notice later than that counts as never received, and `late` says how many still came.
    const measured = summariseArrivals(incidents, latencies);
    if (measured.received < measured.sent)
      console.warn(
        `feed: ${measured.received} of ${measured.sent} notices reached the ministry within ` +
          `${DRAIN_MS / 1000} s of the last send`,
      );
    const stages = await watch.stop(incidents.length);
    const recordsAfter = await topicRecords(kafka, sql);
    loopDelay.stop();
    const latencyByStage = await stageLatencies(sql, trace, loopDelay.maxBySecond);
    const statements = await topStatements(sql);
    await ministry.stop();
    const late = incidents.filter((incident) => latencies.has(incident)).length - measured.received;
    if (failures.length > 0)
      throw new Error(`${failures.length} appends failed, the first: ${String(failures[0])}`);
    return {
      rate,
      seconds,
      truceline: {
        ...measured,
        late,
        append: percentiles(appendLatencies),
      },
      warmUp: warmUpRun,
      stages,
      markers: {
        ministryFeed:
          recordsAfter.ministry - recordsBefore.ministry - (ministryMessages.n - messagesBefore),
        events: recordsAfter.events - recordsBefore.events - (recordsAfter.log - recordsBefore.log),
      },
      latencyByStage,
      ...(statements ? { statements } : {}),
      raw,
    };
  } catch (error) {
    console.error(group.logs());
    throw error;
  } finally {
    await Promise.all(consumers.map((c) => c.disconnect().catch(() => undefined)));
    await stopGently(group);
    // BENCH_FEED_LOGS=1: what the API and the relay printed (warnings and errors).
    if (process.env.BENCH_FEED_LOGS) console.error(group.logs());
    await store.close();
    await sql.close();
  }
}

export interface Stages {
  /** The most events the API's feed projection was behind the log (sampled every 250 ms). */
  projectionBehindMax: number;
  /** The most feed entries the relay was behind the feeds, over all partners. */
  relayBehindMax: number;
  /** The most events the events relay was behind the log. */
  eventsRelayBehindMax: number;
  /**
   * Every 5 s (BENCH_FEED_TIMELINE_MS) from the first send: seconds elapsed, the events in the
   * log since the first send, how far each stage was behind at that moment (events, entries,
   * events), and the CPU each process used since the sample before (ms).
   */
  timeline: {
    s: number;
    log: number;
    projection: number;
    feedRelay: number;
    eventsRelay: number;
    cpuMs: Record<string, number>;
  }[];
  /**
   * CPU time per BreachConfirmed (µs) from the start of the sends until every stage has caught
   * up (or 180 s after the last send): what each process spent on all of them, however late.
   */
  cpuPerEvent: Record<string, number>;
  /**
   * PostgreSQL's share of cpuPerEvent by what its processes served (µs per BreachConfirmed): the
   * backends of the bench (its appends and samples), the API and the relay, the server's own
   * processes by type (each read every second, so one that exits is counted up to its last
   * reading), and `exited` for the rest: the postmaster, and what processes used in their last
   * second or lived less than one.
   */
  postgresByClient: Record<string, number>;
  /** Milliseconds from the first send until every stage had caught up (null: not within 180 s). */
  drainedAfterMs: number | null;
}

/** Samples the stages' backlogs every 250 ms and the processes' CPU over the measurement. */
function watchStages(
  sql: SqlClient,
  group: ProcessGroup,
  kafkaPid: number | null,
  postmasterPid: number | null,
): { stop(events: number): Promise<Stages> } {
  const pids: Record<string, number | null> = {
    bench: process.pid,
    api: group.get('api').pids.at(-1) ?? null,
    relay: group.get('relay').pids.at(-1) ?? null,
    kafka: kafkaPid,
  };
  const cpuNow = async () => {
    const entries = await Promise.all(
      Object.entries(pids).map(async ([name, pid]) => [name, await processCpu(pid)] as const),
    );
    return { ...Object.fromEntries(entries), postgres: await postgresCpu(postmasterPid) };
  };
  const before = cpuNow();
  const postgresBefore = postgresCpuByProcess(sql).catch(() => null);
  // Each server process's CPU as last seen, read every second: a backend that exits meanwhile
  // (a pool closes connections idle for 10 s, autovacuum workers end) is still counted for
  // what it had used by its last reading.
  const postgresSeen = new Map<number, { name: string; cpu: number }>();
  const seePostgres = async () => {
    for (const [pid, used] of (await postgresCpuByProcess(sql).catch(() => null)) ?? [])
      postgresSeen.set(pid, used);
  };
  let samples = 0;
  let lastCpu = before;
  let projectionBehindMax = 0;
  let relayBehindMax = 0;
  let eventsRelayBehindMax = 0;
  const timeline: Stages['timeline'] = [];
  const started = performance.now();
  let logAtStart: number | null = null;
  let stopped = false;
  let caughtUp = false;
  const sampling = (async () => {
    while (!stopped) {
      const { rows } = await sql.query<{
        projection: string;
        relay: string;
        events: string;
        head: string;
      }>(
        `SELECT (SELECT max(position) FROM events) AS head,
                (SELECT max(position) FROM events)
                  - coalesce((SELECT position FROM checkpoints WHERE subscriber_id = $2), 0) AS events,
                (SELECT max(position) FROM events)
                  - coalesce((SELECT max(position) FROM partner_feed_position), 0) AS projection,
                coalesce((SELECT sum(h.head - coalesce(c.position, 0))
                   FROM (SELECT p, (SELECT first_seq + cardinality(items) - 1 FROM partner_feed_runs WHERE partner = p ORDER BY first_seq DESC LIMIT 1) AS head
                           FROM unnest($1::text[]) AS p) h
                   LEFT JOIN checkpoints c
                     ON c.subscriber_id = 'relay:truceline.feed.' || lower(h.p) || '.v1'), 0) AS relay`,
        [FEED_PARTNERS(POLICY_V1), `relay:${EVENTS_TOPIC}`],
      );
      const [row] = rows;
      projectionBehindMax = Math.max(projectionBehindMax, Number(row.projection));
      relayBehindMax = Math.max(relayBehindMax, Number(row.relay));
      eventsRelayBehindMax = Math.max(eventsRelayBehindMax, Number(row.events));
      logAtStart ??= Number(row.head);
      caughtUp =
        Number(row.projection) === 0 && Number(row.relay) === 0 && Number(row.events) === 0;
      const s = (Math.floor((performance.now() - started) / TIMELINE_MS) * TIMELINE_MS) / 1000;
      if (timeline.at(-1)?.s !== s) {
        const [was, now] = [await lastCpu, await cpuNow()];
        lastCpu = Promise.resolve(now);
        timeline.push({
          s,
          log: Number(row.head) - logAtStart,
          projection: Number(row.projection),
          feedRelay: Number(row.relay),
          eventsRelay: Number(row.events),
          cpuMs: cpuSince(was, now),
        });
      }
      if (samples++ % 4 === 0) await seePostgres();
      await sleep(250);
    }
  })();
  return {
    async stop(events) {
      const giveUpAt = performance.now() + DRAIN_CPU_MS;
      while (!caughtUp && performance.now() < giveUpAt) await sleep(250);
      const drainedAfterMs = caughtUp ? Math.round(performance.now() - started) : null;
      stopped = true;
      await sampling;
      const [start, end] = [await before, await cpuNow()];
      const postgresStart = await postgresBefore;
      await seePostgres();
      const cpuPerEvent: Record<string, number> = {};
      for (const [name, used] of Object.entries(end)) {
        const was = (start as Record<string, number | null>)[name];
        if (used !== null && was !== null && was !== undefined)
          cpuPerEvent[name] = Math.round((used - was) / events);
      }
      const postgresByClient: Record<string, number> = {};
      if (postgresStart && start.postgres !== null && end.postgres !== null) {
        let named = 0;
        for (const [pid, { name, cpu }] of postgresSeen) {
          const used = cpu - (postgresStart.get(pid)?.cpu ?? 0);
          postgresByClient[name] = (postgresByClient[name] ?? 0) + used;
          named += used;
        }
        postgresByClient.exited = end.postgres - start.postgres - named;
        for (const name of Object.keys(postgresByClient))
          postgresByClient[name] = Math.round(postgresByClient[name] / events);
      }
      return {
        projectionBehindMax,
        relayBehindMax,
        eventsRelayBehindMax,
        timeline,
        cpuPerEvent,
        postgresByClient,
        drainedAfterMs,
      };
    },
  };
}

/** CPU (ms) each process used between two readings (those known at both). */
function cpuSince(
  was: Record<string, number | null>,
  now: Record<string, number | null>,
): Record<string, number> {
  const used: Record<string, number> = {};
  for (const [name, value] of Object.entries(now)) {
    const before = was[name];
    if (value !== null && before !== null && before !== undefined)
      used[name] = Math.round((value - before) / 1000);
  }
  return used;
}

/** The server's busiest statements since the bench's database was made, or null without the module. */
async function topStatements(sql: SqlClient): Promise<FeedLatencyFigures['statements'] | null> {
  try {
    const { rows } = await sql.query<{
      query: string;
      ms: number;
      planMs: number;
      calls: string;
      rows: string;
    }>(
      `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS query,
              round(total_exec_time)::float8 AS ms, round(total_plan_time)::float8 AS "planMs", calls, rows
         FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time + total_plan_time DESC LIMIT 40`,
    );
    return rows.map((r) => ({
      query: r.query,
      ms: r.ms,
      planMs: r.planMs,
      calls: Number(r.calls),
      rows: Number(r.rows),
    }));
  } catch {
    return null;
  }
}

/** What the bench saw of one breach, in performance.now() milliseconds. */
interface Trace {
  scheduled: number;
  /** The append resolved in the bench. */
  appended?: number;
  /** The relay's producer encoded the notice (the record's timestamp, ms resolution). */
  produced?: number;
  /** The ministry's consumer got it. */
  received?: number;
  /**
   * A read-uncommitted consumer of the same topic got it (BENCH_FEED_TRACE=1): the record was in
   * the broker's log, its transaction perhaps not yet committed.
   */
  inLog?: number;
}

/** p50 / p99 / max of one stage, in milliseconds. */
interface Spread {
  p50: number;
  p99: number;
  max: number;
}

/**
 * Each notice's latency cut at the moments the bench can see without adding work to the stages:
 * the append resolving, the feed entry's commit (only when the server keeps commit timestamps,
 * `track_commit_timestamp`), the relay encoding it (the Kafka record's timestamp) and the
 * consumer receiving it. `tail` is the same cut over the notices slower than the p99: which
 * stage the tail's time went to. `worstSeconds`: the seconds of the run (by scheduled time)
 * with the highest p99, to tell a periodic stall (a timer, a checkpoint) from a steady queue.
 */
export interface StageLatencies {
  stages: Record<string, Spread>;
  tail: Record<string, Spread>;
  worstSeconds: Second[];
  /** The same for the run's first three seconds, worst or not: the start-up transient. */
  firstSeconds: Second[];
}

/**
 * One second of the run: its p99, the stage with the highest p99 and each stage's p99, and the
 * longest the bench's own event loop was held up in it (its consumer's receipts wait as long).
 */
interface Second {
  s: number;
  p99: number;
  stage: string;
  stages: Record<string, number>;
  benchLoopMaxMs: number | null;
}

async function stageLatencies(
  sql: SqlClient,
  trace: Map<string, Trace>,
  benchLoopMaxMs: number[],
): Promise<StageLatencies> {
  // Commit times of the appends and the ministry's notices, where the server records them.
  const committed = new Map<string, { appended: number; projected?: number }>();
  const setting = await sql.query<{ on: string }>(
    `SELECT current_setting('track_commit_timestamp') AS on`,
  );
  if (setting.rows[0]?.on === 'on') {
    const { rows } = await sql.query<{
      incident: string;
      appended: number;
      projected: number | null;
    }>(
      `SELECT substr(e.stream_id, 10) AS incident,
              extract(epoch FROM pg_xact_commit_timestamp(e.xmin)) * 1000 AS appended,
              extract(epoch FROM pg_xact_commit_timestamp(i.xmin)) * 1000 AS projected
         FROM events e
         LEFT JOIN ((${feedEntriesSql()}) f JOIN partner_feed_items i ON i.item = f.item)
           ON f.partner = $1 AND i.type = 'IncidentTierChanged' AND i.position = e.position
        WHERE e.type = 'BreachConfirmed'`,
      [MINISTRY],
    );
    const origin = performance.timeOrigin;
    for (const row of rows)
      committed.set(row.incident, {
        appended: Number(row.appended) - origin,
        projected: row.projected === null ? undefined : Number(row.projected) - origin,
      });
  }
  type Cut = Record<string, number>;
  const cuts: { total: number; at: number; cut: Cut }[] = [];
  for (const [incident, t] of trace) {
    if (t.received === undefined || t.produced === undefined || t.appended === undefined) continue;
    const db = committed.get(incident);
    const cut: Cut = {};
    if (db?.projected !== undefined) {
      cut['append (to its commit)'] = db.appended - t.scheduled;
      cut['feed projection (commit to commit)'] = db.projected - db.appended;
      cut['feed relay (feed commit to encoded)'] = t.produced - db.projected;
    } else {
      cut['append (to resolved)'] = t.appended - t.scheduled;
      cut['projection and relay (to encoded)'] = t.produced - t.appended;
    }
    cut['Kafka (encoded to consumed)'] = t.received - t.produced;
    if (t.inLog !== undefined) {
      cut['Kafka: encoded to in the log (read uncommitted)'] = t.inLog - t.produced;
      cut['Kafka: in the log to consumed (committed)'] = t.received - t.inLog;
    }
    cuts.push({ total: t.received - t.scheduled, at: t.scheduled, cut });
  }
  const spread = (values: number[]): Spread => {
    const sorted = [...values].sort((a, b) => a - b);
    const q = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    const round = (v: number) => Math.round(v * 10) / 10;
    return { p50: round(q(0.5)), p99: round(q(0.99)), max: round(sorted.at(-1) ?? 0) };
  };
  const byStage = (of: typeof cuts) => {
    const stages: Record<string, Spread> = {};
    for (const name of Object.keys(of[0]?.cut ?? {}))
      stages[name] = spread(of.map((c) => c.cut[name] ?? 0));
    return stages;
  };
  const p99 = spread(cuts.map((c) => c.total)).p99;
  const start = Math.min(...cuts.map((c) => c.at));
  const seconds = new Map<number, typeof cuts>();
  for (const c of cuts) {
    const s = Math.floor((c.at - start) / 1000);
    const of = seconds.get(s);
    if (of) of.push(c);
    else seconds.set(s, [c]);
  }
  const bySecond = [...seconds].map(([s, of]) => {
    const stages = byStage(of);
    const [stage] = Object.entries(stages).sort((a, b) => b[1].p99 - a[1].p99)[0] ?? ['', 0];
    const p99s = Object.fromEntries(Object.entries(stages).map(([name, v]) => [name, v.p99]));
    return {
      s,
      p99: spread(of.map((c) => c.total)).p99,
      stage,
      stages: p99s,
      benchLoopMaxMs: benchLoopMaxMs[s] ?? null,
    };
  });
  const worstSeconds = [...bySecond].sort((a, b) => b.p99 - a.p99).slice(0, 8);
  const firstSeconds = bySecond.filter((second) => second.s < 3).sort((a, b) => a.s - b.s);
  return {
    stages: byStage(cuts),
    tail: byStage(cuts.filter((c) => c.total >= p99)),
    worstSeconds,
    firstSeconds,
  };
}

/**
 * Records in the ministry's feed topic and in the events topic (the sum of their partitions' end
 * offsets: messages and commit markers), and the log's head.
 */
async function topicRecords(
  kafka: Kafka,
  sql: SqlClient,
): Promise<{ ministry: number; events: number; log: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const total = async (topic: string) =>
      (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
    const { rows } = await sql.query<{ head: string }>(
      'SELECT coalesce(max(position), 0) AS head FROM events',
    );
    return {
      ministry: await total(feedTopic(MINISTRY)),
      events: await total(EVENTS_TOPIC),
      log: Number(rows[0].head),
    };
  } finally {
    await admin.disconnect();
  }
}

/** The longest the bench's event loop was held up (ms), second by second from now. */
function watchLoopDelay(): { maxBySecond: number[]; stop(): void } {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const maxBySecond: number[] = [];
  const timer = setInterval(() => {
    maxBySecond.push(Math.round(histogram.max / 1e5) / 10);
    histogram.reset();
  }, 1_000);
  timer.unref();
  return {
    maxBySecond,
    stop() {
      clearInterval(timer);
      histogram.disable();
    },
  };
}

/** Calls `send(i, scheduledAt)` for i = 0 … rate·seconds − 1, each at its scheduled time. */
async function paced(
  rate: number,
  seconds: number,
  send: (i: number, scheduledAt: number) => void,
): Promise<void> {
  const total = Math.ceil(rate * seconds);
  const interval = 1000 / rate;
  const start = performance.now();
  let next = 0;
  while (next < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
    for (; next < due; next++) send(next, start + next * interval);
    await sleep(1);
  }
}

async function waitForAll(done: () => boolean, timeoutMs: number): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!done() && Date.now() < giveUpAt) await sleep(20);
}

const header = (message: KafkaMessage, name: string): string | undefined =>
  message.headers?.[name]?.toString();

/**
 * A consumer of `topic` in a group of its own starting at the end of the topic, running once it
 * has joined and fetched (so nothing sent afterwards is missed).
 */
async function ministryConsumer(
  kafka: Kafka,
  consumers: Consumer[],
  topic: string,
  onMessage: (message: KafkaMessage) => void,
  options: { readUncommitted?: boolean } = {},
): Promise<{ stop(): Promise<void> }> {
  // kafkajs' defaults, as the example ministry consumer has them.
  const consumer = kafka.consumer({
    groupId: `${topic.replace(/v1$/, '')}bench-${randomUUID().slice(0, 8)}`,
    ...options,
  });
  consumers.push(consumer);
  await consumer.connect();
  // A topic the relay has just created may still be unknown to the broker's metadata for a
  // moment (UNKNOWN_TOPIC_OR_PARTITION, retriable): ask again for up to 30 s.
  for (let attempt = 1; ; attempt++) {
    try {
      await consumer.subscribe({ topic, fromBeginning: false });
      break;
    } catch (error) {
      if ((error as { retriable?: boolean }).retriable !== true || attempt >= 60) throw error;
      await sleep(500);
    }
  }
  const joined = new Promise<void>((resolve) =>
    consumer.on(consumer.events.GROUP_JOIN, () => resolve()),
  );
  await consumer.run({ eachMessage: async ({ message }) => onMessage(message) });
  await joined;
  // The join resets the new group's offsets to the end at its first fetch.
  await sleep(1_000);
  return { stop: () => consumer.stop() };
}

/**
 * The Kafka hop alone at the same pace: an idempotent producer (acks all) sending each message
 * when it comes due, to a consumer in this process.
 */
async function rawLatency(
  kafka: Kafka,
  consumers: Consumer[],
  rate: number,
  seconds: number,
): Promise<FeedLatencyFigures['raw']> {
  const topic = `bench.e2e-raw.${randomUUID().slice(0, 8)}`;
  await ensureTopics(kafka, [topic], { numPartitions: 12 });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const latencies = new Map<string, number>();
  const scheduledAt = new Map<string, number>();
  const consumer = await ministryConsumer(kafka, consumers, topic, (message) => {
    const key = message.key?.toString() ?? '';
    const at = scheduledAt.get(key);
    if (at !== undefined && !latencies.has(key)) latencies.set(key, performance.now() - at);
  });
  const total = Math.ceil(rate * seconds);
  const keys: string[] = [];
  // As Kafka's own producer does: what comes due while a request is in flight goes in the next
  // one (a single request at a time, as the relay's producer has it).
  let queued: { key: string; value: string }[] = [];
  let inFlight = false;
  const flush = (): void => {
    if (inFlight || queued.length === 0) return;
    inFlight = true;
    const messages = queued;
    queued = [];
    producer
      .send({ topic, acks: -1, messages })
      .catch((error: unknown) => console.error('raw send failed', error))
      .finally(() => {
        inFlight = false;
        flush();
      });
  };
  let firstAt = 0;
  await paced(rate, seconds, (i, at) => {
    if (i === 0) firstAt = at;
    const key = randomUUID();
    keys.push(key);
    scheduledAt.set(key, at);
    queued.push({ key, value: JSON.stringify({ n: i }) });
    flush();
  });
  await waitForAll(() => latencies.size >= total, DRAIN_MS);
  const run = summariseArrivals(keys, latencies);
  // When it ran and its worst latency in each second of sends (∞, null in the JSON, for a message
  // never received): a stall of the broker shows as the seconds it held, to be found in the
  // broker's own log.
  const maxBySecond: number[] = [];
  keys.forEach((key, i) => {
    const s = Math.floor(i / rate);
    maxBySecond[s] = Math.max(maxBySecond[s] ?? 0, latencies.get(key) ?? Infinity);
  });
  const startedAt = new Date(performance.timeOrigin + firstAt).toISOString();
  await consumer.stop();
  await producer.disconnect();
  return { ...run, startedAt, maxBySecond: maxBySecond.map((ms) => Math.round(ms * 10) / 10) };
}

/**
 * SIGTERM first, as a supervisor stops a process (so a `--cpu-prof` in NODE_OPTIONS gets
 * written), SIGKILL for whatever still runs after 10 s.
 */
async function stopGently(group: ProcessGroup): Promise<void> {
  for (const app of group.all) {
    const pid = app.pids.at(-1);
    if (app.running && pid) process.kill(pid, 'SIGTERM');
  }
  await waitForAll(() => group.all.every((app) => !app.running), 10_000);
  await group.killAll();
}

/** The database URL with an `application_name`, so the server's backends say whom they serve. */
function named(url: string, applicationName: string): string {
  const withName = new URL(url);
  withName.searchParams.set('application_name', applicationName);
  return withName.toString();
}

/** The API process (distributed mode: projections and sealer) and the relay process. */
async function startProcesses(
  group: ProcessGroup,
  databaseUrl: string,
  brokers: string,
  beforeRelay: () => Promise<void>,
) {
  const common = {
    KAFKA_BROKERS: brokers,
    TRUCELINE_JWT_SECRET: JWT_SECRET,
    LOG_LEVEL: 'warn',
  };
  // BENCH_FEED_NODE_ARGS go to both processes' node, e.g. `--cpu-prof --cpu-prof-dir=DIR`.
  const nodeArgs = process.env.BENCH_FEED_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const port = await freePort();
  const api = group.add({
    name: 'api',
    entry: 'apps/api/src/main.js',
    nodeArgs,
    env: { ...common, DATABASE_URL: named(databaseUrl, 'api'), PORT: String(port) },
    readyUrl: `http://127.0.0.1:${port}/health/ready`,
  });
  const metricsPort = await freePort();
  const relay = group.add({
    name: 'relay',
    entry: 'apps/relay/src/main.js',
    nodeArgs,
    env: {
      ...common,
      DATABASE_URL: named(databaseUrl, 'relay'),
      METRICS_PORT: String(metricsPort),
    },
    readyUrl: `http://127.0.0.1:${metricsPort}/health/ready`,
  });
  // As the launcher does: the API first (migrations, the policy), then the relay.
  api.start();
  await api.waitUntilReady(180_000);
  await beforeRelay();
  relay.start();
  await relay.waitUntilReady(60_000);
}

/**
 * The seeded history counts as published before the relay starts (its checkpoints at the heads
 * of the log and of each feed): the figure is about what happens next, and relaying the
 * seeded reports (two entries per partner each) would only lengthen the bench. Waits first for
 * the API's feed projection to have applied the whole log.
 */
async function publishedAlready(sql: SqlClient): Promise<void> {
  const giveUpAt = Date.now() + 180_000;
  for (;;) {
    const { rows } = await sql.query<{ behind: string }>(
      `SELECT (SELECT max(position) FROM events)
              - coalesce((SELECT max(position) FROM partner_feed_position), 0) AS behind`,
    );
    if (Number(rows[0].behind) <= 0) break;
    if (Date.now() > giveUpAt) throw new Error(`the feeds are ${rows[0].behind} events behind`);
    await sleep(250);
  }
  await sql.query(
    `INSERT INTO checkpoints (subscriber_id, position, updated_at)
       SELECT 'relay:truceline.feed.' || lower(partner) || '.v1',
              max(first_seq + cardinality(items) - 1), now()
         FROM partner_feed_runs GROUP BY partner
       UNION ALL
       SELECT $1, max(position), now() FROM events
     ON CONFLICT (subscriber_id) DO UPDATE SET position = EXCLUDED.position`,
    [`relay:${EVENTS_TOPIC}`],
  );
}

/**
 * Waits until the feed projection has applied the whole log and the relays have published every
 * feed entry and event: the measurement starts from a system at rest.
 */
async function relayedEverything(sql: SqlClient, timeoutMs: number): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  const partners = FEED_PARTNERS(POLICY_V1);
  for (;;) {
    const { rows } = await sql.query<{ behind: string }>(
      `SELECT
         (SELECT max(position) FROM events)
           - coalesce((SELECT position FROM partner_feed_position LIMIT 1), 0)
         + (SELECT max(position) FROM events)
           - coalesce((SELECT position FROM checkpoints WHERE subscriber_id = $1), 0)
         + coalesce((SELECT sum(head - coalesce(c.position, 0))
              FROM (SELECT p, (SELECT first_seq + cardinality(items) - 1 FROM partner_feed_runs WHERE partner = p ORDER BY first_seq DESC LIMIT 1) AS head
                      FROM unnest($2::text[]) AS p) h
              LEFT JOIN checkpoints c ON c.subscriber_id = 'relay:truceline.feed.' || lower(h.p) || '.v1'
              WHERE head IS NOT NULL), 0) AS behind`,
      [`relay:${EVENTS_TOPIC}`, partners],
    );
    if (Number(rows[0].behind) === 0) return;
    if (Date.now() > giveUpAt) throw new Error(`still ${rows[0].behind} behind after seeding`);
    await sleep(250);
  }
}

const T0 = Date.UTC(2026, 2, 2);
const metadata = (actor: Actor = { id: 'bench', role: 'operator' }): EventMetadata => ({
  correlationId: randomUUID(),
  causationId: null,
  actor,
  policyVersion: 1,
});

const confirmed = (): NewEvent => ({
  id: randomUUID(),
  type: 'BreachConfirmed',
  occurredAt: new Date(T0 + 3_600_000).toISOString(),
  data: { basis: 'quorum' },
  metadata: metadata({ id: 'verification', role: 'service' }),
});

/** One BreachReported per incident (revision 0), written straight into the log. */
async function seedReports(sql: SqlClient, incidents: string[]): Promise<void> {
  const at = new Date(T0).toISOString();
  for (let first = 0; first < incidents.length; first += 5_000) {
    const chunk = incidents.slice(first, first + 5_000);
    await sql.query(
      `INSERT INTO events (position, id, stream_id, revision, type, schema_version,
                             occurred_at, recorded_at, data, metadata)
         SELECT nextval('event_positions'), r.id, r.stream_id, 0, 'BreachReported', 1, $2, $2,
                r.data, r.metadata
           FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, stream_id text, data jsonb, metadata jsonb)`,
      [
        JSON.stringify(
          chunk.map((incident, i) => ({
            id: randomUUID(),
            stream_id: incidentStreamId(incident),
            data: {
              location: { sector: `sector-${i % 7}`, frontlineKm: (first + i) % 1400 },
              category: 'artillery',
              severity: 'major',
              source: { kind: 'sensor', id: `array-${first + i}` },
              summary: `bench breach ${first + i}`,
            },
            metadata: metadata(),
          })),
        ),
        at,
      ],
    );
  }
}
