/** What a run of one scenario found, step by step. */
export interface StepResult {
  index: number;
  at: number;
  actor?: string;
  /** `METHOD /path` as sent, placeholders resolved. */
  request?: string;
  status?: number;
  expectedStatus?: number;
  ok: boolean;
  /** Each expectation that still did not hold when polling gave up: "what: expected X, got Y". */
  expectFailures: string[];
  /** How often the command was sent again after the connection failed (the server restarted). */
  resent?: number;
  /** The response body, kept when the status was not the expected one. */
  response?: unknown;
  /** Why the step could not be run; the scenario stops there. */
  error?: string;
}

export interface ScenarioResult {
  name: string;
  runId: string;
  passed: boolean;
  /** The instant the scenario's hours count from, after any shift. */
  t0: string;
  /** How far T0 was moved after the scenario's `start` (0: not shifted). */
  shiftMs: number;
  /** The incidents the scenario created: name → id, the unnamed first one under "". */
  incidents: Record<string, string>;
  steps: StepResult[];
  /** Steps left out after a step that could not be run. */
  notRun: number;
}
