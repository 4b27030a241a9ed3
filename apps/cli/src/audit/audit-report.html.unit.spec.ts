import type { IncidentAudit } from '@truceline/projections';
import { chartModel } from './audit-chart-model';
import { loadChartLibrary, renderAuditReport } from './audit-report.html';

const T = (hours: number) =>
  new Date(Date.UTC(2026, 2, 5, 21, 30) + hours * 3_600_000).toISOString();
const operator = { id: 'desk-1', role: 'operator' as const };

const audit = (overrides: Partial<IncidentAudit> = {}): IncidentAudit => ({
  incidentId: '66fcb69b-73f6-51ce-bd24-408d7259675e',
  asOf: T(41),
  exercise: true,
  knownAt: {
    incidentId: '66fcb69b-73f6-51ce-bd24-408d7259675e',
    status: 'open',
    tier: 1,
    sector: 'zaporizhzhia-south',
    revision: 7,
    firstViolationAt: T(0),
    exercise: true,
    tierHistory: [],
    obligations: [],
    coalitionTasks: [],
  },
  timeline: [
    {
      eventId: 'e0',
      type: 'BreachReported',
      occurredAt: T(0),
      recordedAt: T(0),
      recordedLate: false,
      actor: operator,
      policyVersion: 1,
      summary: 'drone strike </script><script>alert(1)</script>',
    },
    {
      eventId: 'e5',
      type: 'WarningIssued',
      occurredAt: T(20),
      recordedAt: T(41),
      recordedLate: true,
      actor: operator,
      policyVersion: 1,
      summary: 'warning issued',
    },
  ],
  tierChanges: [
    { tier: 0, at: T(0), causedBy: 'e0', policyVersion: 1, rule: '0 after BreachReported' },
  ],
  decisions: [
    {
      eventId: 'e4',
      authority: 'joint-commission',
      decision: 'other',
      rationale: 'ask <b>the embassy</b>',
      at: T(27),
      recordedAt: T(27),
    },
  ],
  obligations: [
    {
      kind: 'warning',
      dueAt: T(26),
      status: 'met',
      satisfiedBy: { eventId: 'e5', actor: operator, occurredAt: T(20), recordedAt: T(41) },
      missed: { at: T(26), recordedAt: T(26.1) },
      recordedLate: true,
      policyVersion: 1,
    },
    { kind: 'coalition-ack', refId: 'gb-1', dueAt: T(30), status: 'missed', policyVersion: 1 },
  ],
  notifications: [{ partner: 'GB', subject: 'tier-change', tier: 0, deliveredAt: T(1) }],
  ...overrides,
});

const render = (a: IncidentAudit) =>
  renderAuditReport(a, { chartLibrary: '/* chart */', generatedAt: new Date(T(42)) });

describe(renderAuditReport.name, () => {
  it('escapes what the log says, so no stored text can run in the report', () => {
    const html = render(audit());

    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('drone strike &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('ask &lt;b&gt;the embassy&lt;/b&gt;');
    expect(html.match(/<\/script>/g)).toHaveLength(3);
  });

  it('marks drill data with the EXERCISE banner, and only drill data', () => {
    expect(render(audit())).toContain('class="exercise"');
    expect(render(audit({ exercise: false }))).not.toContain('class="exercise"');
  });

  it('shows an obligation met late with both times, and every notice', () => {
    const html = render(audit());

    expect(html).toMatch(
      /WarningIssued by desk-1 · operator<br><small>occurred .*2026-03-06 17:30.* recorded .*2026-03-07 14:30/,
    );
    expect(html).toMatch(/missed .*2026-03-06 23:30.*recorded .*2026-03-06 23:36/);
    expect(html).toContain('recorded late · +21 h');
    expect(html).toMatch(/<td>GB<\/td><td>tier-change \(tier 0\)<\/td>/);
  });

  it('prints the checkpoint when the audit carries one', () => {
    const signed = audit({
      checkpoint: {
        checkpoint: 'truceline/test\n42\nabc=\n\n— truceline/test sig=\n',
        treeSize: 42,
        rootHash: 'abc=',
        verifierKey: 'truceline/test+1234+key=',
      },
    });

    expect(render(signed)).toContain('<pre>truceline/test\n42\nabc=');
    expect(render(signed)).toContain('truceline/test+1234+key=');
    expect(render(audit())).toContain('carries no signed checkpoint');
  });

  it('inlines Chart.js itself, without a source map comment', () => {
    const library = loadChartLibrary();

    expect(library).toContain('Chart.js v4');
    const html = renderAuditReport(audit(), { chartLibrary: library, generatedAt: new Date() });
    expect(html).not.toContain('sourceMappingURL');
  });
});

describe(chartModel.name, () => {
  it('places deadlines, decisions and late facts on an hour grid', () => {
    const sut = chartModel(audit());

    expect(sut.deadlines).toEqual([
      { x: Date.parse(T(26)), status: 'met-late', label: 'warning' },
      { x: Date.parse(T(30)), status: 'missed', label: 'coalition-ack gb-1' },
    ]);
    expect(sut.decisions).toEqual([{ x: Date.parse(T(27)), label: 'other' }]);
    expect(sut.late).toEqual([
      {
        occurred: Date.parse(T(20)),
        recorded: Date.parse(T(41)),
        label: 'WarningIssued, 21 h late',
      },
    ]);
    expect(sut.range.stepHours).toBe(6);
    expect(sut.range.min % (6 * 3_600_000)).toBe(0);
    expect(sut.range.max).toBeGreaterThan(Date.parse(T(41)));
    expect(sut.tiers).toEqual([
      { x: Date.parse(T(0)), tier: 0 },
      { x: sut.range.max, tier: 0 },
    ]);
  });
});
