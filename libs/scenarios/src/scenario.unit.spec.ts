import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requestBody } from './run-scenario';
import { parseScenario, readScenarioFile, ScenarioFormatError } from './scenario';

const SHARED_SCENARIOS = resolve(__dirname, '../../../../shared/scenarios');

const valid = () => ({
  name: 'demo',
  start: '2026-03-02T04:00:00Z',
  actors: { ops: { role: 'operator', sub: 'desk' } },
  steps: [
    { at: 0, actor: 'ops', request: 'POST /v1/incidents', status: 201, body: {} },
    { at: 1, expect: { tier: 0, obligations: { verification: 'open' } } },
  ],
});

describe('parseScenario', () => {
  it('accepts a scenario in the shared format', () => {
    expect(parseScenario(valid()).name).toBe('demo');
  });

  it('lists every problem at once', () => {
    const scenario = valid();
    scenario.start = 'tomorrow';
    scenario.steps.push({ at: 2, actor: 'nobody', request: 'POST /v1/x', status: 201, body: {} });
    scenario.steps.push({ at: 3, expect: { tier: 0, obligations: { warning: 'late' } } } as never);

    expect(() => parseScenario(scenario, 'demo.json')).toThrow(ScenarioFormatError);
    try {
      parseScenario(scenario, 'demo.json');
    } catch (error) {
      expect((error as ScenarioFormatError).problems).toEqual([
        'start: an ISO 8601 instant',
        "steps[2].actor: one of the scenario's actors",
        'steps[3].expect.obligations.warning: one of met, missed, open, closed',
      ]);
    }
  });

  it('refuses a request step without an expected status', () => {
    const scenario = valid();
    delete (scenario.steps[0] as { status?: number }).status;

    expect(() => parseScenario(scenario)).toThrow(/steps\[0\]\.status/);
  });

  it.each(readdirSync(SHARED_SCENARIOS).filter((f) => f.endsWith('.json')))(
    'reads the shared scenario %s',
    (file) => {
      expect(readScenarioFile(join(SHARED_SCENARIOS, file)).steps.length).toBeGreaterThan(0);
    },
  );
});

describe('requestBody', () => {
  const t0 = '2026-03-02T04:00:00.000Z';

  it('replaces {run} and stamps occurredAt at T0 + at', () => {
    expect(requestBody('POST', { at: 1.5, body: { sector: 's-{run}' } }, 'r9', t0)).toEqual({
      occurredAt: '2026-03-02T05:30:00.000Z',
      sector: 's-r9',
    });
  });

  it('uses `occurred` for late reports', () => {
    expect(requestBody('POST', { at: 10, occurred: 2, body: {} }, 'r9', t0)).toEqual({
      occurredAt: '2026-03-02T06:00:00.000Z',
    });
  });

  it('keeps an occurredAt the scenario gives', () => {
    const body = { occurredAt: '2026-03-01T00:00:00Z' };

    expect(requestBody('POST', { at: 3, body }, 'r9', t0)).toEqual(body);
  });

  it('sends no body with GET', () => {
    expect(requestBody('GET', { at: 3 }, 'r9', t0)).toBeUndefined();
  });
});
