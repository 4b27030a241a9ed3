import { readFileSync } from 'node:fs';

/** Token claims of one actor of a scenario; the runner signs a JWT for each. */
export interface ScenarioActor {
  role: string;
  sub: string;
  partner?: string;
}

export type ObligationOutcome = 'met' | 'missed' | 'open' | 'closed';

/** What `GET /v1/incidents/{id}` must show once the services have reacted. */
export interface ScenarioExpectation {
  tier?: number;
  status?: string;
  obligations?: Record<string, ObligationOutcome>;
  tasks?: number;
  deadlinesMissed?: number;
}

export interface ScenarioStep {
  /** Hours after T0: the clock is moved there before the step. */
  at: number;
  /** Hours after T0 the step's event happened, when it differs from `at` (late reports). */
  occurred?: number;
  actor?: string;
  /** `METHOD /path`; a step without one only moves the clock and checks `expect`. */
  request?: string;
  body?: unknown;
  status?: number;
  /** Names the incident a report step creates, for `{incident:NAME}`. */
  as?: string;
  expectOn?: string;
  expect?: ScenarioExpectation;
}

/** One incident's story as HTTP calls, in the format of shared/scenarios/README.md. */
export interface Scenario {
  name: string;
  summary?: string;
  /** T0, ISO 8601. */
  start: string;
  actors: Record<string, ScenarioActor>;
  steps: ScenarioStep[];
}

export class ScenarioFormatError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: not a valid scenario:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ScenarioFormatError';
  }
}

const OUTCOMES: readonly string[] = ['met', 'missed', 'open', 'closed'];
const REQUEST = /^(GET|POST|PUT|PATCH|DELETE) \/\S*$/;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

/**
 * Checks a parsed scenario file against the format and returns it typed. Lists every problem
 * at once, so a scenario author fixes the file in one go rather than one step per run.
 */
export function parseScenario(json: unknown, source = 'scenario'): Scenario {
  const problems: string[] = [];
  if (!isRecord(json)) throw new ScenarioFormatError(source, ['the file must hold a JSON object']);
  if (typeof json.name !== 'string' || json.name === '') problems.push('name: a non-empty string');
  if (typeof json.start !== 'string' || Number.isNaN(Date.parse(json.start))) {
    problems.push('start: an ISO 8601 instant');
  }
  const actors = isRecord(json.actors) ? json.actors : {};
  if (!isRecord(json.actors)) problems.push('actors: an object of name → token claims');
  for (const [name, actor] of Object.entries(actors)) {
    if (!isRecord(actor) || typeof actor.role !== 'string' || typeof actor.sub !== 'string') {
      problems.push(`actors.${name}: needs role and sub (strings)`);
    } else if (actor.partner !== undefined && typeof actor.partner !== 'string') {
      problems.push(`actors.${name}.partner: a partner code`);
    }
  }
  const steps = Array.isArray(json.steps) ? json.steps : [];
  if (!Array.isArray(json.steps) || steps.length === 0) problems.push('steps: a non-empty list');
  steps.forEach((step: unknown, index) => problems.push(...stepProblems(step, index, actors)));
  if (problems.length > 0) throw new ScenarioFormatError(source, problems);
  // Every field checked above: the object is a scenario.
  const checked: unknown = json;
  return checked as Scenario;
}

function stepProblems(step: unknown, index: number, actors: Record<string, unknown>): string[] {
  const where = `steps[${index}]`;
  if (!isRecord(step)) return [`${where}: an object`];
  const problems: string[] = [];
  if (!isFiniteNumber(step.at) || step.at < 0) problems.push(`${where}.at: hours ≥ 0`);
  if (step.occurred !== undefined && !isFiniteNumber(step.occurred)) {
    problems.push(`${where}.occurred: hours after T0`);
  }
  if (step.request !== undefined) {
    if (typeof step.request !== 'string' || !REQUEST.test(step.request)) {
      problems.push(`${where}.request: "METHOD /path"`);
    }
    if (typeof step.actor !== 'string' || !(step.actor in actors)) {
      problems.push(`${where}.actor: one of the scenario's actors`);
    }
    if (!Number.isInteger(step.status)) problems.push(`${where}.status: the expected HTTP status`);
  }
  if (step.as !== undefined && typeof step.as !== 'string') problems.push(`${where}.as: a name`);
  if (step.expectOn !== undefined && typeof step.expectOn !== 'string') {
    problems.push(`${where}.expectOn: an incident name`);
  }
  if (step.expect !== undefined) problems.push(...expectationProblems(step.expect, where));
  if (step.request === undefined && step.expect === undefined) {
    problems.push(`${where}: needs a request or an expect`);
  }
  return problems;
}

function expectationProblems(expect: unknown, where: string): string[] {
  if (!isRecord(expect)) return [`${where}.expect: an object`];
  const problems: string[] = [];
  for (const key of ['tier', 'tasks', 'deadlinesMissed'] as const) {
    if (expect[key] !== undefined && !Number.isInteger(expect[key])) {
      problems.push(`${where}.expect.${key}: an integer`);
    }
  }
  if (expect.status !== undefined && typeof expect.status !== 'string') {
    problems.push(`${where}.expect.status: a string`);
  }
  if (expect.obligations !== undefined) {
    if (!isRecord(expect.obligations)) problems.push(`${where}.expect.obligations: an object`);
    else
      for (const [kind, outcome] of Object.entries(expect.obligations)) {
        if (typeof outcome !== 'string' || !OUTCOMES.includes(outcome)) {
          problems.push(`${where}.expect.obligations.${kind}: one of ${OUTCOMES.join(', ')}`);
        }
      }
  }
  const known = ['tier', 'status', 'obligations', 'tasks', 'deadlinesMissed'];
  for (const key of Object.keys(expect)) {
    if (!known.includes(key)) problems.push(`${where}.expect.${key}: unknown expectation`);
  }
  return problems;
}

/** Reads and checks one scenario file. */
export function readScenarioFile(file: string): Scenario {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ScenarioFormatError(file, [(error as Error).message]);
  }
  return parseScenario(json, file);
}
