import { IncidentState, initialIncidentState } from '@truceline/domain';
import { parseState, storedView, toView } from './incident.queries';

const AT = '2026-03-02T07:00:00.000Z';

/** A state as the fold builds it: every item's keys in the order evolveIncident writes them. */
const folded = (): IncidentState => ({
  ...initialIncidentState(),
  incidentId: 'i-1',
  status: 'open',
  tier: 2,
  revision: 9,
  sector: 'sector-0',
  firstViolationAt: AT,
  confirmedAt: AT,
  tierHistory: [{ tier: 2, at: AT, recordedAt: AT, causedBy: 'e-1', policyVersion: 1 }],
  obligations: [
    { kind: 'warning', dueAt: AT, status: 'met', satisfiedAt: AT, recordedLate: false },
  ],
  tasks: [
    { taskId: 't-1', member: 'GB', capability: 'land', dueAt: AT, tier: 2, status: 'assigned' },
  ],
  acknowledgements: [{ partner: 'PL', eventId: 'e-2', at: AT }],
});

describe(storedView.name, () => {
  it("answers with the items' keys in jsonb's order, whatever order the stored text has", () => {
    const stored = parseState(JSON.stringify(folded()));

    // The body GET has always served: jsonb orders an object's keys shortest first, then bytewise.
    expect(JSON.stringify(storedView(stored))).toBe(
      '{"incidentId":"i-1","status":"open","tier":2,"sector":"sector-0","revision":9,' +
        `"firstViolationAt":"${AT}","exercise":false,` +
        `"tierHistory":[{"at":"${AT}","tier":2,"causedBy":"e-1","recordedAt":"${AT}","policyVersion":1}],` +
        `"obligations":[{"kind":"warning","dueAt":"${AT}","status":"met","satisfiedAt":"${AT}"}],` +
        `"coalitionTasks":[{"tier":2,"dueAt":"${AT}","member":"GB","status":"assigned","taskId":"t-1","capability":"land"}],` +
        `"acknowledgements":[{"at":"${AT}","eventId":"e-2","partner":"PL"}]}`,
    );
    // The same content as the view of the state folded in memory (the audit trail's).
    expect(storedView(stored)).toEqual(toView(folded()));
  });

  it('leaves out receipts when there are none, as toView does', () => {
    const view = storedView({ ...folded(), acknowledgements: [] });
    expect(view).not.toHaveProperty('acknowledgements');
  });
});
