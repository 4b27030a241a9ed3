import { signToken, TokenClaims } from '@truceline/config';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expectationMismatches, IncidentSnapshot } from './expectations';
import {
  IncidentRegistry,
  incidentOfPath,
  pickTask,
  replaceRun,
  resolvePath,
  TaskView,
  taskPlaceholders,
  unknownPlaceholders,
} from './placeholders';
import { Scenario, ScenarioExpectation, ScenarioStep } from './scenario';
import { ApiResponse, ScenarioHttp } from './scenario-http';
import { formatHeader, formatStep, formatSummary } from './scenario-report';
import { ScenarioResult, StepResult } from './scenario-result';
import { hoursAfter, scenarioTimeline } from './scenario-time';

export type ScenarioProgress =
  | { kind: 'clock'; index: number; now: string }
  | { kind: 'sending'; index: number; request: string }
  | { kind: 'step'; result: StepResult };

export interface RunScenarioOptions {
  baseUrl: string;
  jwtSecret: string;
  log?: (line: string) => void;
  /** Replaces `{run}` and keys the idempotency of every command; random when not given. */
  runId?: string;
  /** Awaited at each stage; tests use it to crash the server at a chosen point. */
  onProgress?: (progress: ScenarioProgress) => void | Promise<void>;
  /** How long the services get to react before an expectation counts as failed. */
  pollTimeoutMs?: number;
  /** How long connection failures are retried (the server may be restarting). */
  retryWindowMs?: number;
}

/** The run cannot start: no exercise clock, wrong secret, nothing listening. */
export class ScenarioSetupError extends Error {
  override name = 'ScenarioSetupError';
}

export const EXERCISE_MODE_HINT =
  'Scenarios run against an instance in exercise mode (SPEC §2), whose clock they move. ' +
  'Start one with `TRUCELINE_CLOCK=exercise npm start` or `npm run start:exercise`.';

/** Real-time lifetime of the runner's tokens: long enough for a run that waits out restarts. */
const TOKEN_TTL_SECONDS = 12 * 3600;
const POLL_INTERVAL_MS = 200;
const RUNNER = 'scenario-runner';
/** Before the first step nothing is under way: an instance that is not there is reported soon. */
const FIRST_CONTACT_RETRY_MS = 10_000;

/**
 * Feeds one scenario (shared/scenarios/README.md) through the HTTP API of an instance in
 * exercise mode: moves the clock before each step, sends the step's request as its actor, and
 * polls the incident until the expectations hold or the services had `pollTimeoutMs` to react.
 */
export async function runScenario(
  scenario: Scenario,
  options: RunScenarioOptions,
): Promise<ScenarioResult> {
  const runId = options.runId ?? randomUUID().slice(0, 8);
  const log = options.log ?? (() => undefined);
  const pollTimeoutMs = options.pollTimeoutMs ?? 10_000;
  const http = new ScenarioHttp(options.baseUrl, { retryWindowMs: options.retryWindowMs });
  const sign = (claims: TokenClaims, who: string) => {
    try {
      return signToken(options.jwtSecret, claims, TOKEN_TTL_SECONDS);
    } catch (error) {
      throw new ScenarioSetupError(`${scenario.name}: ${who}: ${(error as Error).message}`);
    }
  };
  const tokens = new Map(
    Object.entries(scenario.actors).map(([name, claims]) => [
      name,
      sign(claims as TokenClaims, `actor ${name}`),
    ]),
  );
  const clockToken = sign({ role: 'operator', sub: RUNNER }, 'runner');
  const readToken = sign({ role: 'auditor', sub: RUNNER }, 'runner');

  const clock = new ExerciseClockDriver(http, clockToken, options.baseUrl);
  const clockNow = await clock.read(FIRST_CONTACT_RETRY_MS);
  const { t0, shiftMs } = scenarioTimeline(scenario.start, clockNow);
  formatHeader(scenario.name, runId, { t0, shiftMs, start: scenario.start, clockNow }).forEach(log);

  const incidents = new IncidentRegistry();
  const reader = new IncidentReader(http, readToken, pollTimeoutMs);
  const steps: StepResult[] = [];
  for (const [index, step] of scenario.steps.entries()) {
    const result: StepResult = {
      index,
      at: step.at,
      actor: step.actor,
      ok: false,
      expectFailures: [],
    };
    try {
      await clock.moveTo(hoursAfter(t0, step.at));
      await options.onProgress?.({ kind: 'clock', index, now: hoursAfter(t0, step.at) });
      if (step.request) {
        const [method, rawPath] = step.request.split(' ');
        const path = await resolveRequestPath(rawPath, step, runId, incidents, reader);
        result.request = `${method} ${path}`;
        result.expectedStatus = step.status;
        await options.onProgress?.({ kind: 'sending', index, request: result.request });
        const response = await http.request(method, path, {
          token: tokens.get(step.actor as string) as string,
          body: requestBody(method, step, runId, t0),
          idempotencyKey: `scenario-${runId}-${scenario.name}-${index}`,
        });
        result.status = response.status;
        if (response.retries > 0) result.resent = response.retries;
        if (response.status !== step.status) result.response = response.body;
        if (method === 'POST' && path === '/v1/incidents') recordReport(response, step, incidents);
      }
      if (step.expect) {
        const incidentId = incidents.resolve(step.expectOn);
        result.expectFailures = await reader.awaitExpectation(incidentId, step.expect);
      }
      result.ok = result.status === result.expectedStatus && result.expectFailures.length === 0;
    } catch (error) {
      if (error instanceof ScenarioSetupError) throw error;
      result.error = (error as Error).message;
    }
    steps.push(result);
    formatStep(result).forEach(log);
    await options.onProgress?.({ kind: 'step', result });
    if (result.error) break;
  }

  const outcome: ScenarioResult = {
    name: scenario.name,
    runId,
    passed: steps.every((s) => s.ok) && steps.length === scenario.steps.length,
    t0,
    shiftMs,
    incidents: incidents.toJSON(),
    steps,
    notRun: scenario.steps.length - steps.length,
  };
  log(formatSummary(outcome));
  return outcome;
}

/** The body as sent: `{run}` replaced, `occurredAt` = T0 + (occurred ?? at) unless given. */
export function requestBody(
  method: string,
  step: Pick<ScenarioStep, 'at' | 'occurred' | 'body'>,
  runId: string,
  t0: string,
): unknown {
  if (method === 'GET' || method === 'DELETE') return undefined;
  const body = replaceRun(step.body ?? {}, runId);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  return { occurredAt: hoursAfter(t0, step.occurred ?? step.at), ...body };
}

async function resolveRequestPath(
  rawPath: string,
  step: ScenarioStep,
  runId: string,
  incidents: IncidentRegistry,
  reader: IncidentReader,
): Promise<string> {
  let path = resolvePath(rawPath, runId, incidents);
  const tasks = taskPlaceholders(path);
  if (tasks.length > 0) {
    const incidentId = incidentOfPath(path) ?? incidents.resolve(step.expectOn);
    for (const { placeholder, member, capability } of tasks) {
      const task = await reader.awaitTask(incidentId, member, capability);
      path = path.replace(placeholder, encodeURIComponent(task.taskId));
    }
  }
  const unknown = unknownPlaceholders(path);
  if (unknown.length > 0)
    throw new Error(`unknown placeholder ${unknown.join(', ')} in ${rawPath}`);
  return path;
}

function recordReport(response: ApiResponse, step: ScenarioStep, incidents: IncidentRegistry) {
  const incidentId = (response.body as { incidentId?: unknown } | undefined)?.incidentId;
  if (response.status === 201 && typeof incidentId === 'string')
    incidents.record(incidentId, step.as);
}

/** Moves the instance's exercise clock, only ever forward (moving it back is refused). */
class ExerciseClockDriver {
  private now = 0;

  constructor(
    private readonly http: ScenarioHttp,
    private readonly token: string,
    private readonly baseUrl: string,
  ) {}

  async read(retryWindowMs?: number): Promise<string> {
    let response: ApiResponse;
    try {
      response = await this.http.request('GET', '/v1/exercise/clock', {
        token: this.token,
        retryWindowMs,
      });
    } catch (error) {
      throw new ScenarioSetupError(
        `cannot reach the API at ${this.baseUrl} (${(error as Error).message}). ${EXERCISE_MODE_HINT}`,
      );
    }
    if (response.status === 404) {
      throw new ScenarioSetupError(
        `the instance at ${this.baseUrl} is not in exercise mode (GET /v1/exercise/clock → 404). ${EXERCISE_MODE_HINT}`,
      );
    }
    if (response.status === 401 || response.status === 403) {
      throw new ScenarioSetupError(
        `the instance at ${this.baseUrl} refused the runner's token (${response.status}): sign with ` +
          "the instance's secret (--secret, TRUCELINE_JWT_SECRET, or the same TRUCELINE_DATA_DIR as the server)",
      );
    }
    const now = (response.body as { now?: unknown } | undefined)?.now;
    if (response.status !== 200 || typeof now !== 'string' || Number.isNaN(Date.parse(now))) {
      throw new ScenarioSetupError(
        `GET /v1/exercise/clock → ${response.status} ${JSON.stringify(response.body)}: expected 200 { now, mode }`,
      );
    }
    this.now = Math.max(this.now, Date.parse(now));
    return now;
  }

  async moveTo(target: string): Promise<void> {
    if (Date.parse(target) <= this.now) return;
    const response = await this.http.request('POST', '/v1/exercise/clock', {
      token: this.token,
      body: { now: target },
    });
    if (response.status === 200 || response.status === 201) {
      this.now = Date.parse(target);
      return;
    }
    // 409: the clock already stands later (moved by someone else, or our move before a crash).
    if (response.status === 409) {
      await this.read();
      if (this.now >= Date.parse(target)) return;
    }
    throw new Error(
      `POST /v1/exercise/clock { now: ${target} } → ${response.status} ${JSON.stringify(response.body)}`,
    );
  }
}

interface IncidentBody extends IncidentSnapshot {
  coalitionTasks: TaskView[];
}

/** Polls the incident as the runner's auditor until the services have reacted. */
class IncidentReader {
  constructor(
    private readonly http: ScenarioHttp,
    private readonly token: string,
    private readonly timeoutMs: number,
  ) {}

  async awaitExpectation(incidentId: string, expect: ScenarioExpectation): Promise<string[]> {
    let mismatches: string[] = [];
    await this.poll(async () => {
      const incident = await this.get(incidentId);
      if ('problem' in incident) {
        mismatches = [incident.problem];
        return false;
      }
      if (expect.deadlinesMissed !== undefined) {
        incident.value.deadlinesMissed = await this.countDeadlinesMissed(incidentId);
      }
      mismatches = expectationMismatches(expect, incident.value);
      return mismatches.length === 0;
    });
    return mismatches;
  }

  async awaitTask(incidentId: string, member: string, capability: string): Promise<TaskView> {
    let task: TaskView | undefined;
    let problem = '';
    await this.poll(async () => {
      const incident = await this.get(incidentId);
      if ('problem' in incident) problem = `: ${incident.problem}`;
      else task = pickTask(incident.value.coalitionTasks ?? [], member, capability);
      return task !== undefined;
    });
    if (task) return task;
    throw new Error(
      `{task:${member}:${capability}}: no unanswered ${capability} task of ${member} on incident ` +
        `${incidentId} after ${this.timeoutMs / 1000} s${problem}`,
    );
  }

  /** Set when a read had to wait out a connection failure (the server restarted). */
  private reconnected = false;

  /** Runs `check` until it holds or `timeoutMs` passed; a restart of the server resets the wait. */
  private async poll(check: () => Promise<boolean>): Promise<void> {
    this.reconnected = false;
    let deadline = Date.now() + this.timeoutMs;
    for (;;) {
      if (await check()) return;
      if (this.reconnected) {
        deadline = Date.now() + this.timeoutMs;
        this.reconnected = false;
      }
      if (Date.now() >= deadline) return;
      await sleep(POLL_INTERVAL_MS);
    }
  }

  private async get(incidentId: string): Promise<{ value: IncidentBody } | { problem: string }> {
    const path = `/v1/incidents/${encodeURIComponent(incidentId)}`;
    const response = await this.send(path);
    if (response.status === 200) return { value: response.body as IncidentBody };
    return { problem: `GET ${path} → ${response.status} ${JSON.stringify(response.body)}` };
  }

  private async countDeadlinesMissed(incidentId: string): Promise<number | undefined> {
    const path = `/v1/incidents/${encodeURIComponent(incidentId)}/events`;
    const response = await this.send(path);
    if (response.status !== 200) return undefined;
    const body = response.body as { events?: { type: string }[] } | { type: string }[];
    const events = Array.isArray(body) ? body : (body.events ?? []);
    return events.filter((e) => e.type === 'DeadlineMissed').length;
  }

  private async send(path: string): Promise<ApiResponse> {
    const response = await this.http.request('GET', path, { token: this.token });
    if (response.retries > 0) this.reconnected = true;
    return response;
  }
}
