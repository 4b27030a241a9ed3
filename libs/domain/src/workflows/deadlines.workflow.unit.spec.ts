import {
  confirmed,
  deadlineMissed,
  h,
  hostilitiesPersisted,
  INCIDENT_ID,
  incidentSpec,
  reported,
  resolved,
  taskAnswered,
  taskAssigned,
} from '@truceline/testing';
import { IllegalStateError } from '../errors/errors';
import { initialIncidentState } from '../incident/state';
import { missedDeadlines, nextDueAt } from './deadlines.workflow';

const spec = incidentSpec();
const at = (iso: string) => new Date(iso);
const ms = 1 / 3_600_000;

/** Verification due h(6), warning due h(25), GB task due h(14), PL task due h(16). */
const tier2 = [
  reported({ occurredAt: h(0) }),
  confirmed({ occurredAt: h(1) }),
  hostilitiesPersisted({ occurredAt: h(2) }),
  taskAssigned({ taskId: 'task-gb', member: 'GB', capability: 'land', tier: 2, dueAt: h(14) }),
  taskAssigned({ taskId: 'task-pl', member: 'PL', capability: 'land', tier: 2, dueAt: h(16) }),
];

describe(missedDeadlines.name, () => {
  const sut = missedDeadlines;

  it('misses nothing while the clock stands exactly at the dueAt', () => {
    expect(sut(spec.given(reported()).state(), at(h(6)))).toEqual([]);
  });

  it('misses an open obligation once the clock has passed its dueAt, occurring at the dueAt', () => {
    expect(sut(spec.given(reported()).state(), at(h(6 + ms)))).toEqual([
      {
        key: 'verification',
        dueAt: h(6),
        event: { type: 'DeadlineMissed', data: { obligation: 'verification', dueAt: h(6) } },
      },
    ]);
  });

  it('misses only the open obligations already due, each task by its own key', () => {
    const state = spec.given(...tier2).state();

    expect(sut(state, at(h(15)))).toEqual([
      {
        key: 'coalition-ack:task-gb',
        dueAt: h(14),
        event: {
          type: 'DeadlineMissed',
          data: { obligation: 'coalition-ack', dueAt: h(14), refId: 'task-gb' },
        },
      },
    ]);
  });

  it('misses nothing already met or already missed', () => {
    const state = spec
      .given(
        ...tier2,
        taskAnswered('CoalitionTaskAcknowledged', 'task-pl', { occurredAt: h(3) }),
        deadlineMissed('coalition-ack', h(14), { refId: 'task-gb', occurredAt: h(14) }),
      )
      .state();

    expect(sut(state, at(h(20)))).toEqual([]);
  });

  it('misses nothing once the incident is resolved', () => {
    const state = spec.given(...tier2, resolved({ occurredAt: h(3) })).state();

    expect(sut(state, at(h(100)))).toEqual([]);
  });
});

describe('RecordMissedDeadlines (the system command)', () => {
  const record = (now: string) => ({ type: 'RecordMissedDeadlines', data: { now } }) as const;

  it('records each miss at its dueAt, with an id from the incident and obligation', () => {
    spec
      .given(...tier2)
      .when(record(h(15)))
      .then([
        {
          type: 'DeadlineMissed',
          data: { obligation: 'coalition-ack', dueAt: h(14), refId: 'task-gb' },
          id: `${INCIDENT_ID}:deadline-missed:coalition-ack:task-gb`,
          occurredAt: h(14),
        },
      ]);
  });

  it('is refused once the incident is resolved', () => {
    spec
      .given(...tier2, resolved({ occurredAt: h(3) }))
      .when(record(h(100)))
      .thenThrows(IllegalStateError, 'incident-resolved');
  });
});

describe(nextDueAt.name, () => {
  const sut = nextDueAt;

  it('is the earliest dueAt among open obligations', () => {
    expect(sut(spec.given(...tier2).state())).toBe(h(14));
  });

  it('skips obligations met or missed', () => {
    const state = spec
      .given(
        ...tier2,
        taskAnswered('CoalitionTaskDeclined', 'task-gb', { occurredAt: h(3) }),
        deadlineMissed('coalition-ack', h(16), { refId: 'task-pl', occurredAt: h(16) }),
      )
      .state();

    expect(sut(state)).toBe(h(25));
  });

  it('is the verification dueAt right after the report', () => {
    expect(sut(spec.given(reported({ occurredAt: h(-1) })).state())).toBe(h(5));
  });

  it('is null once nothing is open', () => {
    expect(sut(spec.given(reported(), confirmed(), resolved()).state())).toBeNull();
    expect(sut(initialIncidentState())).toBeNull();
  });
});
