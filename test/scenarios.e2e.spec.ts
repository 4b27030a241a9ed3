import { createTestDatabase, TestDatabase } from '@truceline/testing';
import { readScenarioFile, runScenario } from '@truceline/scenarios';
import { basename } from 'node:path';
import { InProcessSystem, startInProcessSystem } from './support/in-process-system';
import { sharedScenarioFiles } from './support/shared-scenarios';

/**
 * The acceptance scenarios of shared/scenarios, run through the real HTTP API of the whole
 * embedded system on each store. All of them run on one instance, one after the other, as an
 * operator's drill would: each later scenario is shifted past the previous one's clock.
 */
const SCENARIOS = sharedScenarioFiles();
const SCENARIO_TIMEOUT_MS = 120_000;

async function expectScenarioPasses(system: InProcessSystem, file: string): Promise<void> {
  const lines: string[] = [];
  const result = await runScenario(readScenarioFile(file), {
    baseUrl: system.baseUrl,
    jwtSecret: system.jwtSecret,
    log: (line) => lines.push(line),
  });
  // The whole report on failure: which step, which request, what the incident showed instead.
  expect(result.passed ? 'passed' : lines.join('\n')).toBe('passed');
  expect(result.steps.every((step) => step.ok)).toBe(true);
}

describe('shared scenarios on PGlite (embedded store)', () => {
  let system: InProcessSystem;

  beforeAll(async () => {
    // Before every scenario's start: the first one runs at its own dates, the others shifted.
    system = await startInProcessSystem({ clockStart: '2026-03-01T00:00:00Z' });
  }, 60_000);
  afterAll(() => system?.close());

  it.each(SCENARIOS.map((file) => [basename(file, '.json'), file]))(
    '%s passes every step',
    (_name, file) => expectScenarioPasses(system, file),
    SCENARIO_TIMEOUT_MS,
  );
});

describe('shared scenarios on PostgreSQL', () => {
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
    (_name, file) => expectScenarioPasses(system, file),
    SCENARIO_TIMEOUT_MS,
  );
});
