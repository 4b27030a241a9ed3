import { availableParallelism } from 'node:os';
import {
  decodeIncidentFact,
  evolveIncident,
  incidentIdOf,
  IncidentState,
  initialIncidentState,
  POLICY_STREAM,
  StoredEvent,
} from '@truceline/domain';
import { openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import {
  buildInto,
  INCIDENTS,
  inSchema,
  migrateProjection,
  PolicyRegistry,
} from '@truceline/projections';
import { createDatabase, insertGeneratedHistory } from '@truceline/testing';
import { startThrowawayPostgres } from '../../infra/postgres/pg-test-server';
import { postmasterOf } from './postgres-cpu';
import { PhaseFigures, rawScan, REPLAY_INCIDENTS, timed } from './replay.bench';

/** Parts and positions a part reads at once, as a rebuild on two cores splits the log. */
const PARTS = 2;
const SPAN = 5_000 * PARTS;

/**
 * Every part's events read and parsed as a rebuild's parts read them (readPartForReplay), one
 * part after the other in this thread, each page handed to `use`. Returns the events read.
 */
async function readParts(
  store: SqlEventStore,
  head: number,
  use: (events: StoredEvent[], index: number) => void,
): Promise<number> {
  let read = 0;
  for (let index = 0; index < PARTS; index++)
    for (let after = 0; after < head; after += SPAN) {
      const events = await store.readPartForReplay({
        after,
        through: Math.min(after + SPAN, head),
        index,
        count: PARTS,
        everyPart: [POLICY_STREAM],
      });
      // The policy stream is read by every part: counted once, as a rebuild counts it.
      for (const event of events) if (index === 0 || event.streamId !== POLICY_STREAM) read++;
      use(events, index);
    }
  return read;
}

/**
 * The replay of the incident view taken apart (`node dist/test/bench/replay-floor.main.js`):
 * what it cannot do without, each part's CPU per event measured on its own in one run, beside
 * the raw scan + JSON.parse baseline and the whole rebuild of the same log —
 *
 * - read + parse: the parts' reads (server and Node), nothing else;
 * - fold: the same reads, each event folded into its incident's state (the rules of the
 *   domain, as the loader calls them), minus the reads;
 * - serialise: every final state printed once (JSON.stringify), as the rows are written;
 * - store: the same reads folded by the rebuild's loader, which writes the rows (in this
 *   thread, parts one after the other), minus the reads, fold and serialising: what writing
 *   the rows costs the server and Node;
 * - and the whole rebuild (`buildInto`, parts in threads, indexes built at the end), for what
 *   running it in parallel adds.
 *
 * Then the budget: at 0.8x the scan's rate the replay has 1 / (0.8 x scan) seconds an event,
 * times the cores, of CPU to spend. BENCH_REPLAY_INCIDENTS (default 50,000: 500k events).
 */
async function main(): Promise<void> {
  const postgres = await startThrowawayPostgres();
  try {
    const databaseUrl = await createDatabase(postgres.url, 'bench_replay_floor');
    const sql = await openDatabase({ databaseUrl, poolSize: 4 });
    const store = new SqlEventStore(sql);
    try {
      await store.init();
      await migrateProjection(sql, INCIDENTS);
      await new PolicyRegistry(store).load();
      const head = await insertGeneratedHistory(sql, REPLAY_INCIDENTS);
      await sql.exec('VACUUM ANALYZE events');
      await rawScan(databaseUrl, async () => undefined); // warm the cache
      const postmaster = await postmasterOf(sql);
      const figures = await measure(sql, store, databaseUrl, head, postmaster);
      report(figures);
    } finally {
      await store.close();
      await sql.close();
    }
  } finally {
    await postgres.stop();
  }
}

interface Floor {
  scan: PhaseFigures;
  read: PhaseFigures;
  fold: PhaseFigures;
  serialise: number;
  /** Read, fold, serialise and store, by the rebuild's loader, in this thread. */
  load: PhaseFigures;
  rebuild: PhaseFigures;
  statesPerEvent: number;
}

async function measure(
  sql: SqlClient,
  store: SqlEventStore,
  url: string,
  head: number,
  postmaster: number | null,
): Promise<Floor> {
  const scan = await timed(postmaster, (done) => rawScan(url, done));
  const read = await timed(postmaster, async (done) => {
    const n = await readParts(store, head, () => undefined);
    await done();
    return n;
  });
  const policies = new PolicyRegistry(store);
  await policies.refresh();
  let states: Map<string, IncidentState>[] = [];
  const fold = await timed(postmaster, async (done) => {
    states = Array.from({ length: PARTS }, () => new Map());
    const n = await readParts(store, head, (events, index) => {
      const held = states[index];
      for (const event of events) {
        const incidentId = incidentIdOf(event.streamId);
        const fact = incidentId ? decodeIncidentFact(event) : null;
        if (!incidentId || !fact) continue;
        held.set(
          incidentId,
          evolveIncident(held.get(incidentId) ?? initialIncidentState(), fact, policies.of),
        );
      }
    });
    await done();
    return n;
  });
  const all = states.flatMap((held) => [...held.values()]);
  states = [];
  const started = process.cpuUsage();
  let printed = 0;
  for (const state of all) printed += JSON.stringify(state).length;
  const used = process.cpuUsage(started);
  const serialise = (used.user + used.system) / fold.events;
  // The rows written by the loader of a rebuild, its parts one after the other in this thread,
  // into tables of their own (the secondary indexes left out, as a rebuild builds them last).
  await sql.exec('CREATE SCHEMA bench_floor_load');
  await inSchema(sql, 'bench_floor_load').transaction(async (tx) => {
    for (const step of INCIDENTS.migrations) await tx.exec(step);
  });
  for (const index of ['incident_view_due', 'incident_view_sector', 'incident_view_created'])
    await sql.exec(`DROP INDEX bench_floor_load.${index}`);
  const load = await timed(postmaster, async (done) => {
    const loaders = Array.from({ length: PARTS }, () =>
      INCIDENTS.loader?.(inSchema(sql, 'bench_floor_load'), policies, { empty: true }),
    );
    let pending = Promise.resolve();
    const n = await readParts(store, head, (events, index) => {
      pending = pending.then(() => loaders[index]?.load(events));
    });
    await pending;
    for (const loader of loaders) await loader?.finish();
    await done();
    return n;
  });
  await sql.exec('DROP SCHEMA bench_floor_load CASCADE');
  const rebuild = await timed(postmaster, async (done) => {
    const result = await buildInto(sql, policies, INCIDENTS, 'bench_floor', head, {
      databaseUrl: url,
      parts: PARTS,
    });
    await done();
    return result.events;
  });
  await sql.exec('DROP SCHEMA bench_floor CASCADE');
  if (printed === 0) throw new Error('no state was folded');
  return { scan, read, fold, serialise, load, rebuild, statesPerEvent: all.length / fold.events };
}

function report(f: Floor): void {
  const us = (value: number | null) => `${(value ?? NaN).toFixed(2)} µs`;
  const pg = (phase: PhaseFigures) => phase.postgresCpuPerEvent ?? 0;
  const total = (phase: PhaseFigures) => phase.nodeCpuPerEvent + pg(phase);
  const foldNode = f.fold.nodeCpuPerEvent - f.read.nodeCpuPerEvent;
  const storeNode = f.load.nodeCpuPerEvent - f.fold.nodeCpuPerEvent - f.serialise;
  const storeServer = pg(f.load) - pg(f.read);
  const cores = availableParallelism();
  const budget = (cores * 1e6) / (0.8 * f.scan.rate);
  const floor = total(f.read) + foldNode + f.serialise + storeNode + storeServer;
  console.log(JSON.stringify(f));
  console.log(
    [
      `scan: ${Math.round(f.scan.rate)} events/s, CPU per event node ${us(f.scan.nodeCpuPerEvent)}, PostgreSQL ${us(pg(f.scan))}`,
      `read + parse (${PARTS} parts): node ${us(f.read.nodeCpuPerEvent)}, PostgreSQL ${us(pg(f.read))}`,
      `fold: node ${us(foldNode)}`,
      `serialise (${f.statesPerEvent.toFixed(2)} states an event): node ${us(f.serialise)}`,
      `store (the loader in this thread, less the above): node ${us(storeNode)}, PostgreSQL ${us(storeServer)}`,
      `sum: ${us(floor)} an event`,
      `the whole rebuild (${PARTS} parts in threads, indexes built at the end): node ${us(f.rebuild.nodeCpuPerEvent)}, PostgreSQL ${us(pg(f.rebuild))}, ${Math.round(f.rebuild.rate)} events/s (${(f.rebuild.rate / f.scan.rate).toFixed(2)}x the scan)`,
      `budget at 0.8x the scan on ${cores} cores, every core always busy: ${us(budget)} an event`,
    ].join('\n'),
  );
}

void main();
