import { formatStep, formatSummary, summarizeBody } from './scenario-report';
import { StepResult } from './scenario-result';

const step = (overrides: Partial<StepResult> = {}): StepResult => ({
  index: 2,
  at: 26.1,
  actor: 'gb-verifier',
  request: 'POST /v1/incidents/i-1/findings',
  status: 201,
  expectedStatus: 201,
  ok: true,
  expectFailures: [],
  ...overrides,
});

describe('formatStep', () => {
  it('shows a passed step on one line: mark, number, hour, actor, request and status', () => {
    expect(formatStep(step())).toEqual([
      '  ✓ step  3  +26.1h  gb-verifier    POST /v1/incidents/i-1/findings → 201',
    ]);
  });

  it('shows what went wrong under a failed step', () => {
    const sut = formatStep(
      step({
        ok: false,
        status: 400,
        response: { title: 'Bad Request', detail: 'verifier: unknown partner' },
        expectFailures: ['tier: expected 1, got 0'],
        resent: 2,
      }),
    );

    expect(sut).toEqual([
      '  ✗ step  3  +26.1h  gb-verifier    POST /v1/incidents/i-1/findings → 400 (expected 201) (retried 2× after connection failures)',
      '      response: Bad Request · verifier: unknown partner',
      '      tier: expected 1, got 0',
    ]);
  });

  it('shows a clock-only step', () => {
    expect(
      formatStep(step({ actor: undefined, request: undefined, status: undefined }))[0],
    ).toMatch(/\+26\.1h {2}—\s+clock and expectations$/);
  });
});

describe('formatSummary', () => {
  it('counts passed steps and those never run', () => {
    expect(
      formatSummary({
        name: 'seed',
        runId: 'r',
        passed: false,
        t0: '',
        shiftMs: 0,
        incidents: {},
        steps: [step(), step({ ok: false })],
        notRun: 3,
      }),
    ).toBe('✗ seed: 1/5 steps passed, 3 not run');
  });
});

describe('summarizeBody', () => {
  it('names the bad fields of a problem+json body', () => {
    expect(
      summarizeBody({
        title: 'Invalid input',
        status: 400,
        errors: [{ field: 'occurredAt', message: 'more than 5 minutes in the future' }],
      }),
    ).toBe('Invalid input · occurredAt: more than 5 minutes in the future');
  });

  it('truncates long bodies', () => {
    expect(summarizeBody('x'.repeat(400))).toHaveLength(301);
  });
});
