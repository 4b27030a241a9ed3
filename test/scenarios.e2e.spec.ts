import { createTestDatabase, TestDatabase } from '@truceline/testing';
import { readScenarioFile, runScenario, ScenarioResult } from '@truceline/scenarios';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { InProcessSystem, startInProcessSystem } from './support/in-process-system';
import { sharedScenarioFiles } from './support/shared-scenarios';
import { expectWhatIfOfSharedScenarios } from './support/what-if-check';

/**
 * The acceptance scenarios of shared/scenarios, run through the real HTTP API of the whole
 * embedded system on each store. All of them run on one instance, one after the other, as an
 * operator's drill would: each later scenario is shifted past the previous one's clock. Then
 * the what-if replay reads the history they left (SPEC §9).
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
    // The read models are compared before and after: let the projections catch up first.
    await system.runtime.settle();
    const env = { DATABASE_URL: database.url };
    await expectWhatIfOfSharedScenarios({ databaseUrl: database.url }, env, seedOf(results));
  });
});
