import { openDatabase } from '@truceline/event-store';
import { createTestDatabase, TestDatabase } from '@truceline/testing';
import { readScenarioFile, runScenario, ScenarioResult } from '@truceline/scenarios';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runCli } from '../apps/cli/src/cli';
import { CliEnvironment } from '../apps/cli/src/cli-environment';
import { InProcessSystem, startInProcessSystem } from './support/in-process-system';
import { readModelRows, sideEffects } from './support/read-models';
import { sharedScenarioFiles } from './support/shared-scenarios';
import { expectWhatIfOfSharedScenarios } from './support/what-if-check';

/**
 * The acceptance scenarios of shared/scenarios, run through the real HTTP API of the whole
 * embedded system on each store. All of them run on one instance, one after the other, as an
 * operator's drill would: each later scenario is shifted past the previous one's clock. Then
 * the replays read the history they left (SPEC §9): rebuilds, the past as it stood, what-if.
 */
const SCENARIOS = sharedScenarioFiles();
const SCENARIO_TIMEOUT_MS = 120_000;
const SEED = 'seed-three-tier-escalation';

async function expectScenarioPasses(
  system: InProcessSystem,
  file: string,
  results: Map<string, ScenarioResult>,
): Promise<void> {
  const lines: string[] = [];
  const result = await runScenario(readScenarioFile(file), {
    baseUrl: system.baseUrl,
    jwtSecret: system.jwtSecret,
    log: (line) => lines.push(line),
  });
  // The whole report on failure: which step, which request, what the incident showed instead.
  expect(result.passed ? 'passed' : lines.join('\n')).toBe('passed');
  expect(result.steps.every((step) => step.ok)).toBe(true);
  results.set(basename(file, '.json'), result);
}

/** The seed scenario's incident and the instant its hours count from. */
function seedOf(results: Map<string, ScenarioResult>): { incidentId: string; t0: string } {
  const seed = results.get(SEED);
  if (!seed) throw new Error(`the ${SEED} scenario did not run`);
  return { incidentId: seed.incidents[''], t0: seed.t0 };
}

/** `truceline …` run in this process, as an operator would run it beside the system. */
async function cli(argv: string[], env: CliEnvironment) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Half an hour after the seed incident was confirmed: before the warning was authorized. */
function afterSeedConfirmation(results: Map<string, ScenarioResult>): {
  at: string;
  incidentId: string;
} {
  const { incidentId, t0 } = seedOf(results);
  // Confirmed at hour 2 (the second finding), the warning authorized at hour 3, tier 2 at hour 30.
  return { at: new Date(Date.parse(t0) + 2.5 * 3_600_000).toISOString(), incidentId };
}

/**
 * Nothing left for the system to do by itself: every subscription caught up, and every sealed
 * event under a signed checkpoint — else the sealer's next checkpoint (every few seconds while
 * the tree grew) would add a LogCheckpoint notice to the feeds in the middle of a comparison.
 */
async function quiet(system: InProcessSystem): Promise<void> {
  await system.runtime.settle();
  await system.runtime.ledger.sealer.sealPending();
  await system.runtime.ledger.sealer.checkpoint();
  await system.runtime.settle();
}

/** The seed incident as `replay --until … --json` printed it. */
function seedAsOf(json: string, incidentId: string) {
  const views = JSON.parse(json) as {
    incidentId: string;
    tier: number;
    obligations: { kind: string; status: string }[];
  }[];
  return views.find((view) => view.incidentId === incidentId);
}

describe('shared scenarios on PGlite (embedded store)', () => {
  const results = new Map<string, ScenarioResult>();
  let dataDir: string;
  let system: InProcessSystem | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'truceline-scenarios-'));
    // Before every scenario's start: the first one runs at its own dates, the others shifted.
    system = await startInProcessSystem({ dataDir, clockStart: '2026-03-01T00:00:00Z' });
  }, 60_000);
  afterAll(async () => {
    await system?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.each(SCENARIOS.map((file) => [basename(file, '.json'), file]))(
    '%s passes every step',
    (_name, file) => expectScenarioPasses(system as InProcessSystem, file, results),
    SCENARIO_TIMEOUT_MS,
  );

  it('replay on the stopped instance rebuilds every read model identically, with no side effect', async () => {
    const running = system as InProcessSystem;
    await quiet(running);
    const rows = await readModelRows(running.runtime.sql);
    const effects = await sideEffects(running.runtime.sql);
    // The embedded store is one process's: the operator stops the instance first.
    await running.close();
    system = undefined;
    const env = { TRUCELINE_DATA_DIR: dataDir };

    const replay = await cli(['replay'], env);
    const { at, incidentId } = afterSeedConfirmation(results);
    const asOf = await cli(['replay', '--until', at, '--json'], env);

    expect(replay).toMatchObject({
      code: 0,
      out: expect.stringMatching(/incidents v\d+: rebuilt/),
    });
    expect(asOf.code).toBe(0);
    expect(seedAsOf(asOf.out, incidentId)).toMatchObject({
      tier: 1,
      obligations: expect.arrayContaining([
        { kind: 'warning', status: 'open', dueAt: expect.any(String) },
      ]),
    });
    const sql = await openDatabase({ dataDir });
    try {
      expect(await readModelRows(sql)).toEqual(rows);
      expect(await sideEffects(sql)).toEqual(effects);
    } finally {
      await sql.close();
    }
  }, 60_000);

  it('replays the history under another policy without changing it (what-if)', async () => {
    // The embedded store is one process's: the CLI reads it once the instance has stopped.
    await system?.close();
    system = undefined;
    const env = { TRUCELINE_DATA_DIR: dataDir };
    await expectWhatIfOfSharedScenarios({ dataDir }, env, seedOf(results));
  });
});

describe('shared scenarios on PostgreSQL', () => {
  const results = new Map<string, ScenarioResult>();
  let database: TestDatabase;
  let system: InProcessSystem;

  beforeAll(async () => {
    database = await createTestDatabase();
    // No clock start: the clock stands at the real now, so every scenario is shifted.
    system = await startInProcessSystem({ databaseUrl: database.url });
  }, 60_000);
  afterAll(async () => {
    await system?.close();
    await database?.drop();
  });

  it.each(SCENARIOS.map((file) => [basename(file, '.json'), file]))(
    '%s passes every step',
    (_name, file) => expectScenarioPasses(system, file, results),
    SCENARIO_TIMEOUT_MS,
  );

  it('replays the history under another policy while the system serves, changing nothing (what-if)', async () => {
    // The read models and the log are compared before and after: let the projections catch up
    // and the sealer append its checkpoint first, or it lands in the middle of the comparison.
    await quiet(system);
    const env = { DATABASE_URL: database.url };
    await expectWhatIfOfSharedScenarios({ databaseUrl: database.url }, env, seedOf(results));
  });

  it('replay beside the running system rebuilds every read model identically, with no side effect', async () => {
    await quiet(system);
    const sql = system.runtime.sql;
    const rows = await readModelRows(sql);
    const effects = await sideEffects(sql);
    const env = { DATABASE_URL: database.url };

    const replay = await cli(['replay', '--projection', 'all'], env);
    await system.runtime.settle();

    expect(replay).toMatchObject({ code: 0, out: expect.stringMatching(/feeds v\d+: rebuilt/) });
    expect(await readModelRows(sql)).toEqual(rows);
    expect(await sideEffects(sql)).toEqual(effects);
  }, 60_000);

  it('replay --until between the seed confirmation and tier 2 shows tier 1, the warning open', async () => {
    const { at, incidentId } = afterSeedConfirmation(results);
    await quiet(system);
    const rows = await readModelRows(system.runtime.sql);
    const env = { DATABASE_URL: database.url };

    const table = await cli(['replay', '--until', at, '--into', 'seed_as_of'], env);
    const json = await cli(['replay', '--until', at, '--into', 'seed_as_of_json', '--json'], env);

    expect(table.code).toBe(0);
    expect(table.out).toMatch(new RegExp(`${incidentId}\\s+open\\s+1\\s+.*warning open`));
    expect(seedAsOf(json.out, incidentId)).toMatchObject({ tier: 1 });
    expect(seedAsOf(json.out, incidentId)?.obligations).toContainEqual(
      expect.objectContaining({ kind: 'warning', status: 'open' }),
    );
    // The live read models are untouched.
    expect(await readModelRows(system.runtime.sql)).toEqual(rows);
  }, 60_000);

  it('refuses bad input with a clear error and changes nothing', async () => {
    const sql = system.runtime.sql;
    const env = { DATABASE_URL: database.url };
    await quiet(system);
    const before = { rows: await readModelRows(sql), effects: await sideEffects(sql) };
    const head = Number(
      (await sql.query<{ h: string }>('SELECT max(position) AS h FROM events')).rows[0].h,
    );
    const { rows: schemas } = await sql.query('SELECT nspname FROM pg_namespace ORDER BY 1');

    const unknown = await cli(['replay', '--projection', 'incident-view'], env);
    const future = await cli(['replay', '--until', '2999-01-01T00:00:00Z'], env);
    const pastHead = await cli(['replay', '--until', String(head + 1)], env);

    expect(unknown).toMatchObject({
      code: 2,
      err: expect.stringMatching(/unknown projection "incident-view"/),
    });
    expect(future).toMatchObject({
      code: 1,
      err: expect.stringMatching(/2999-01-01T00:00:00.000Z is in the future/),
    });
    expect(pastHead).toMatchObject({
      code: 1,
      err: expect.stringMatching(
        new RegExp(`--until ${head + 1} is past the head of the log \\(${head}\\)`),
      ),
    });
    expect({ rows: await readModelRows(sql), effects: await sideEffects(sql) }).toEqual(before);
    expect((await sql.query('SELECT nspname FROM pg_namespace ORDER BY 1')).rows).toEqual(schemas);
  }, 60_000);
});
