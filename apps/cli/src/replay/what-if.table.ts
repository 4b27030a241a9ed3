import type { EscalationPolicy, Iso } from '@truceline/domain';
import { tierDiffers } from '@truceline/projections';
import type {
  DeadlineMissedRow,
  IncidentDifference,
  ObligationSide,
  TaskLabel,
  WhatIfReport,
} from '@truceline/projections';

/** What `replay --policy FILE --diff` reports, as JSON or as the table below. */
export interface WhatIfOutput extends WhatIfReport {
  policyFile: string;
  /** The document, with the version it would get if adopted now. */
  policy: EscalationPolicy;
  /** Which clock ended history: the store's exercise clock, or the system clock. */
  clock: 'exercise' | 'system';
}

/** Minutes are enough to read a deadline; seconds only when there are some. */
const time = (iso: Iso): string => new Date(iso).toISOString().replace(/(:00)?\.000Z$/, 'Z');

const hours = (h: number): string => `${h} h`;

const taskName = (task: TaskLabel | undefined): string =>
  task ? ` ${task.member} ${task.capability} (tier ${task.tier})` : '';

function obligationCell(side: ObligationSide | null): string {
  if (!side) return 'never opened';
  const due = `due ${time(side.dueAt)}`;
  switch (side.status) {
    case 'met':
      return `met ${time(side.satisfiedAt ?? side.dueAt)}${side.recordedLate ? ' (recorded late)' : ''}, ${due}`;
    case 'missed':
      return `MISSED, ${due}`;
    case 'closed':
      return `closed at resolution, ${due}`;
    case 'open':
      return `open, ${due}`;
  }
}

function deadlineCells(row: DeadlineMissedRow): [string, string] {
  const live = row.live
    ? row.live.recorded
      ? `recorded (due ${time(row.live.dueAt)})`
      : `due ${time(row.live.dueAt)}, not recorded yet`
    : row.whatIf
      ? 'did not happen'
      : '';
  const whatIf = row.whatIf ? `WOULD HAPPEN (due ${time(row.whatIf.dueAt)})` : 'would not happen';
  return [live, whatIf];
}

/** Rows of one incident: what, live, what-if. */
function rowsOf(difference: IncidentDifference): [string, string, string][] {
  const rows: [string, string, string][] = [];
  if (difference.status.live !== difference.status.whatIf)
    rows.push(['status', difference.status.live, difference.status.whatIf]);
  for (const row of difference.tiers)
    rows.push([
      `tier ${row.tier} reached`,
      row.live ? time(row.live) : 'never',
      !tierDiffers(row) ? 'same' : row.whatIf ? time(row.whatIf) : 'never',
    ]);
  for (const row of difference.obligations)
    rows.push([
      `${row.obligation}${taskName(row.task)}`,
      obligationCell(row.live),
      obligationCell(row.whatIf),
    ]);
  for (const row of difference.deadlinesMissed)
    rows.push([`DeadlineMissed ${row.obligation}${taskName(row.task)}`, ...deadlineCells(row)]);
  return rows;
}

/** Columns padded to their widest cell, so the live and what-if columns line up. */
function table(rows: [string, string, string][]): string[] {
  const all: [string, string, string][] = [['', 'LIVE', 'WHAT-IF'], ...rows];
  const widths = [0, 1].map((i) => Math.max(...all.map((r) => r[i].length)));
  return all.map(([what, live, whatIf]) =>
    `  ${what.padEnd(widths[0])}  ${live.padEnd(widths[1])}  ${whatIf}`.trimEnd(),
  );
}

function policyLine(p: EscalationPolicy): string {
  return (
    `verification ${hours(p.verificationWindowHours)}, quorum ${p.verificationQuorum} of ` +
    `${p.verifierRoster.join(' ')}; warning ${hours(p.warningWindowHours)}; coalition ` +
    `acknowledgement ${hours(p.coalitionAckWindowHours)}; Western response ` +
    `${hours(p.westernResponseWindowHours)}; repeated violation ` +
    `${p.repeatedViolation.confirmedBreaches} in ${hours(p.repeatedViolation.windowHours)}`
  );
}

/** The report as people read it: a header, then one aligned table per incident that differs. */
export function renderWhatIf(output: WhatIfOutput): string {
  const lines = [
    `What-if under ${output.policyFile}: ${policyLine(output.policy)}`,
    `History: ${output.events} events of ${output.incidents} incident${output.incidents === 1 ? '' : 's'}, ` +
      `judged at ${time(output.historyEnd)} (${output.clock === 'exercise' ? 'the exercise clock' : 'now'}).`,
    'LIVE is what the log holds; WHAT-IF is what this policy would have made of the same facts.',
    'Nothing was changed: the log and the read models were only read.',
    '',
  ];
  if (output.differing.length === 0) {
    lines.push('No incident would have gone otherwise under this policy.');
    return lines.join('\n');
  }
  lines.push(
    `${output.differing.length} of ${output.incidents} incidents would have gone otherwise:`,
  );
  for (const difference of output.differing) {
    lines.push(
      '',
      `Incident ${difference.incidentId} (sector ${difference.sector})` +
        (difference.exercise ? ' EXERCISE' : ''),
      ...table(rowsOf(difference)),
    );
  }
  return lines.join('\n');
}
