import { signToken } from '@truceline/config';
import {
  readScenarioFile,
  runScenario,
  ScenarioProgress,
  ScenarioResult,
} from '@truceline/scenarios';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiProcess, ensureBuilt } from './support/api-process';
import { countByType, LoggedEvent, streamViolations } from './support/event-invariants';
import { freePort } from './support/free-port';
import { sharedScenarioFile } from './support/shared-scenarios';

/**
 * SPEC §5: every reaction happens once and a missed deadline yields exactly one DeadlineMissed
 * "across restarts". The built embedded process is SIGKILLed at the worst moments — while a
 * command is in flight, and right after the clock passed a deadline — and started again on the
 * same data; the runner retries what failed with the same Idempotency-Key. The log must come out
 * as if nothing had happened.
 */
const JWT_SECRET = 'crash-restart-e2e-secret-of-32-characters';
/** Long enough for a request to reach the server, short enough to land before most answers. */
const IN_FLIGHT_MS = 20;

/*
 * Each case may take five minutes: a shared scenario run through with two restarts of the
 * process, each opening its data again. The waits inside have bounds of their own (the first
 * start is waited for a minute, the runner retries a request for a minute while the process
 * restarts), so a stuck case still fails by them; five minutes is what the sum may take on a
 * loaded machine, where the seed case went past two (load 16-20).
 */

describe('crash and restart of the embedded process (PGlite)', () => {
  let api: ApiProcess | undefined;
  let dataDir: string | undefined;

  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(async () => {
    await api?.crash();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  afterAll(() => api?.crash());

  async function startApi(): Promise<ApiProcess> {
    dataDir = mkdtempSync(join(tmpdir(), 'truceline-crash-'));
    api = new ApiProcess({
      PORT: String(await freePort()),
      TRUCELINE_CLOCK: 'exercise',
      TRUCELINE_DATA_DIR: dataDir,
      TRUCELINE_JWT_SECRET: JWT_SECRET,
      LOG_LEVEL: 'warn',
    });
    api.start();
    await api.waitUntilServing();
    return api;
  }

  /** Runs a shared scenario, crashing and restarting the process where `crashAt` says. */
  async function runWithCrashes(
    name: string,
    crashAt: (progress: ScenarioProgress) => 'now' | 'in-flight' | undefined,
  ): Promise<{ result: ScenarioResult; report: string; crashes: string[] }> {
    const server = await startApi();
    const lines: string[] = [];
    const crashes: string[] = [];
    const crashAndRestart = async (where: string) => {
      crashes.push(where);
      lines.push(`  ☠ SIGKILL ${where}; starting again on the same data`);
      await server.crash();
      server.start();
    };
    const result = await runScenario(readScenarioFile(sharedScenarioFile(name)), {
      baseUrl: server.baseUrl,
      jwtSecret: JWT_SECRET,
      log: (line) => lines.push(line),
      onProgress: async (progress) => {
        const when = crashAt(progress);
        const where = `${progress.kind} of step ${stepOf(progress) + 1}`;
        if (when === 'now') await crashAndRestart(where);
        if (when === 'in-flight')
          setTimeout(() => void crashAndRestart(`during the ${where}`), IN_FLIGHT_MS);
      },
    });
    return { result, report: `${lines.join('\n')}\n\nprocess output:\n${server.log}`, crashes };
  }

  async function eventsOf(incidentId: string): Promise<LoggedEvent[]> {
    const token = signToken(JWT_SECRET, { role: 'auditor', sub: 'crash-restart-e2e' });
    const response = await fetch(`${api?.baseUrl}/v1/incidents/${incidentId}/events`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { events: LoggedEvent[] }).events;
  }

  it('missed-warning: exactly one DeadlineMissed and one confirmation despite two crashes', async () => {
    const { result, report, crashes } = await runWithCrashes('missed-warning', (p) => {
      // Step 3 is the second confirming finding: the quorum is reached while the process dies.
      if (p.kind === 'sending' && p.index === 2) return 'in-flight';
      // Step 5 moves the clock past the warning's dueAt (T0 + 26 h): the scheduler's moment.
      if (p.kind === 'clock' && p.index === 4) return 'now';
      return undefined;
    });

    expect(result.passed ? 'passed' : report).toBe('passed');
    expect(crashes).toHaveLength(2);
    const events = await eventsOf(result.incidents['']);
    expect(streamViolations(events)).toEqual([]);
    expect(countByType(events)).toEqual({
      BreachReported: 1,
      VerificationRequested: 1,
      VerificationFindingSubmitted: 2,
      BreachConfirmed: 1,
      DeadlineMissed: 1,
      ...countOf(events, 'NotificationDelivered'),
    });
    expect(events.find((e) => e.type === 'DeadlineMissed')?.data).toMatchObject({
      obligation: 'warning',
    });
  }, 300_000);

  it('seed: tier 2 and tier 3 tasking happen once each despite crashes mid-escalation', async () => {
    const { result, report, crashes } = await runWithCrashes('seed-three-tier-escalation', (p) => {
      // Step 7 (hostilities persist → tier 2, nine coalition tasks) and step 17 (large-scale →
      // tier 3, five Western-force tasks): the process dies while the tasking reacts.
      if (p.kind === 'sending' && (p.index === 6 || p.index === 16)) return 'in-flight';
      return undefined;
    });

    expect(result.passed ? 'passed' : report).toBe('passed');
    expect(crashes).toHaveLength(2);
    const events = await eventsOf(result.incidents['']);
    expect(streamViolations(events)).toEqual([]);
    const counts = countByType(events);
    expect(counts).toMatchObject({
      BreachReported: 1,
      VerificationRequested: 1,
      BreachConfirmed: 1,
      HostilitiesPersisted: 1,
      EscalationAssessed: 1,
      CoalitionTaskAssigned: 14,
      WesternResponseActivated: 1,
      IncidentResolved: 1,
    });
    expect(counts.DeadlineMissed).toBeUndefined();
    const tasks = events
      .filter((e) => e.type === 'CoalitionTaskAssigned')
      .map((e) => e.data as { taskId: string; member: string; capability: string; dueAt: string });
    expect(new Set(tasks.map((t) => t.taskId)).size).toBe(14);
    expect(new Set(tasks.map((t) => `${t.member} ${t.capability} ${t.dueAt}`)).size).toBe(14);
  }, 300_000);
});

const stepOf = (progress: ScenarioProgress): number =>
  progress.kind === 'step' ? progress.result.index : progress.index;

/** Notices are delivered per partner (how many depends on configuration): counted, not fixed. */
function countOf(events: readonly LoggedEvent[], type: string): Record<string, number> {
  const count = events.filter((e) => e.type === type).length;
  return count > 0 ? { [type]: count } : {};
}
