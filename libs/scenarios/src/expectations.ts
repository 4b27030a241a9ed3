import { ObligationOutcome, ScenarioExpectation } from './scenario';

export interface ObligationView {
  kind: string;
  status: string;
}

/** The parts of `GET /v1/incidents/{id}` that scenarios check. */
export interface IncidentSnapshot {
  tier: number;
  status: string;
  obligations: readonly ObligationView[];
  coalitionTasks: readonly unknown[];
  /** DeadlineMissed events in the incident's stream; only read when a step expects it. */
  deadlinesMissed?: number;
}

/**
 * One outcome per obligation kind (scenarios/README.md): a kind with several obligations (one
 * coalition-ack per task) is missed if any is missed, else open if any is open, else closed if
 * all are closed, else met.
 */
export function aggregateObligations(
  obligations: readonly ObligationView[],
): Record<string, ObligationOutcome> {
  const byKind = new Map<string, string[]>();
  for (const { kind, status } of obligations)
    byKind.set(kind, [...(byKind.get(kind) ?? []), status]);
  return Object.fromEntries([...byKind].map(([kind, statuses]) => [kind, outcomeOf(statuses)]));
}

function outcomeOf(statuses: readonly string[]): ObligationOutcome {
  if (statuses.includes('missed')) return 'missed';
  if (statuses.includes('open')) return 'open';
  if (statuses.every((s) => s === 'closed')) return 'closed';
  return 'met';
}

/** Every expectation that does not hold, as "what: expected X, got Y". Empty when all hold. */
export function expectationMismatches(
  expect: ScenarioExpectation,
  actual: IncidentSnapshot,
): string[] {
  const mismatches: string[] = [];
  const check = (what: string, expected: unknown, got: unknown) => {
    if (expected !== undefined && expected !== got) {
      mismatches.push(`${what}: expected ${String(expected)}, got ${String(got ?? '(none)')}`);
    }
  };
  check('tier', expect.tier, actual.tier);
  check('status', expect.status, actual.status);
  const outcomes = aggregateObligations(actual.obligations);
  for (const [kind, expected] of Object.entries(expect.obligations ?? {})) {
    check(`obligations.${kind}`, expected, outcomes[kind]);
  }
  check('tasks', expect.tasks, actual.coalitionTasks.length);
  check('deadlinesMissed', expect.deadlinesMissed, actual.deadlinesMissed);
  return mismatches;
}
