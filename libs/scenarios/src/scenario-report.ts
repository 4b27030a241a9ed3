import type { ScenarioResult, StepResult } from './scenario-result';
import { describeShift } from './scenario-time';

const MAX_BODY = 300;

export function formatHeader(
  name: string,
  runId: string,
  timeline: { t0: string; shiftMs: number; start: string; clockNow: string },
): string[] {
  const lines = [`▶ ${name} (run ${runId})`];
  if (timeline.shiftMs === 0) lines.push(`  T0 ${timeline.t0}`);
  else
    lines.push(
      `  T0 ${timeline.t0}: shifted ${describeShift(timeline.shiftMs)} from the scenario's start ` +
        `${timeline.start}, since the exercise clock already stood at ${timeline.clockNow} ` +
        '(it never moves back)',
    );
  return lines;
}

/** One step as read by an operator: mark, step number, hour, actor, request → status, problems. */
export function formatStep(step: StepResult): string[] {
  const mark = step.ok ? '✓' : '✗';
  const what = step.request
    ? `${step.request} → ${step.status ?? '—'}${
        step.status !== undefined && step.status !== step.expectedStatus
          ? ` (expected ${step.expectedStatus})`
          : ''
      }`
    : 'clock and expectations';
  const resent = step.resent ? ` (retried ${step.resent}× after connection failures)` : '';
  const lines = [
    `  ${mark} step ${String(step.index + 1).padStart(2)}  +${`${step.at}h`.padEnd(6)} ${(
      step.actor ?? '—'
    ).padEnd(14)} ${what}${resent}`,
  ];
  if (step.response !== undefined) lines.push(`      response: ${summarizeBody(step.response)}`);
  for (const failure of step.expectFailures) lines.push(`      ${failure}`);
  if (step.error) lines.push(`      error: ${step.error}`);
  return lines;
}

export function formatSummary(result: ScenarioResult): string {
  const passed = result.steps.filter((s) => s.ok).length;
  const notRun = result.notRun > 0 ? `, ${result.notRun} not run` : '';
  return `${result.passed ? '✓' : '✗'} ${result.name}: ${passed}/${result.steps.length + result.notRun} steps passed${notRun}`;
}

/** A problem+json body by its title, detail and bad fields; anything else as truncated JSON. */
export function summarizeBody(body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    const { title, detail, errors } = body as {
      title?: unknown;
      detail?: unknown;
      errors?: unknown;
    };
    if (typeof detail === 'string' || typeof title === 'string') {
      const fields = Array.isArray(errors)
        ? errors.map(
            (e: { field?: unknown; message?: unknown }) =>
              `${String(e.field)}: ${String(e.message)}`,
          )
        : [];
      return [title, detail, ...fields].filter((part) => typeof part === 'string').join(' · ');
    }
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > MAX_BODY ? `${text.slice(0, MAX_BODY)}…` : text;
}
