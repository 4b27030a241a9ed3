import {
  assessed,
  confirmed,
  DEFAULT_SECTOR,
  h,
  hostilitiesPersisted,
  INCIDENT_ID,
  incidentSpec,
  rejected,
  reported,
  resolved,
  taskAssigned,
} from '@truceline/testing';
import { IllegalStateError } from '../errors/errors';
import { IncidentState } from '../incident/state';
import { POLICY_V1 } from '../policy/policy';
import { coalitionTaskingReactions, TaskIdOf } from './coalition-tasking.workflow';

const spec = incidentSpec();
const taskIdOf: TaskIdOf = (tier, member, capability) => `t${tier}-${member}-${capability}`;

/** SPEC §3 rosters, written out so a changed policy cannot silently change what is tasked. */
const COALITION = [
  ['GB', 'land'],
  ['GB', 'air'],
  ['FR', 'land'],
  ['FR', 'air'],
  ['DE', 'air-defence'],
  ['PL', 'land'],
  ['NO', 'maritime'],
  ['IS', 'logistics'],
  ['TR', 'maritime'],
] as const;
const WESTERN_FORCE = [
  ['US', 'intelligence'],
  ['US', 'logistics'],
  ['US', 'air'],
  ['GB', 'air'],
  ['FR', 'air'],
] as const;

const tasks = (tier: 2 | 3, roster: typeof COALITION | typeof WESTERN_FORCE, dueAt: string) =>
  roster.map(([member, capability]) => ({
    type: 'CoalitionTaskAssigned',
    data: { taskId: taskIdOf(tier, member, capability), member, capability, dueAt, tier },
  }));

describe(coalitionTaskingReactions.name, () => {
  const sut = (state: IncidentState) => coalitionTaskingReactions(state, POLICY_V1, taskIdOf);

  it('tasks nobody at tier 1', () => {
    expect(sut(spec.given(reported(), confirmed()).state())).toEqual([]);
  });

  it('tasks the 9 coalition capabilities at tier 2, due tier reached + 12 h', () => {
    const state = spec
      .given(reported(), confirmed(), hostilitiesPersisted({ occurredAt: h(5), recordedAt: h(50) }))
      .state();

    expect(sut(state)).toEqual([{ tier: 2, at: h(5), events: tasks(2, COALITION, h(17)) }]);
  });

  it('tasks the coalition at confirmation when the sector is under repeated violation', () => {
    const repeatedViolation = { sector: DEFAULT_SECTOR, windowHours: 168, incidentIds: ['a', 'b'] };
    const state = spec
      .given(reported(), confirmed({ occurredAt: h(2), repeatedViolation }))
      .state();

    expect(sut(state)).toEqual([{ tier: 2, at: h(2), events: tasks(2, COALITION, h(14)) }]);
  });

  it('tasks the 5 Western-force capabilities, US elements included, at tier 3', () => {
    const state = spec
      .given(
        reported(),
        confirmed(),
        hostilitiesPersisted({ occurredAt: h(2) }),
        taskAssigned({
          taskId: 't2-GB-land',
          member: 'GB',
          capability: 'land',
          tier: 2,
          dueAt: h(14),
        }),
        assessed('large-scale', { occurredAt: h(20) }),
      )
      .state();

    expect(sut(state)).toEqual([{ tier: 3, at: h(20), events: tasks(3, WESTERN_FORCE, h(32)) }]);
  });

  it('gives an incident that jumps from tier 1 to 3 the measures of both tiers', () => {
    const state = spec
      .given(reported(), confirmed(), assessed('large-scale', { occurredAt: h(8) }))
      .state();

    expect(sut(state)).toEqual([
      { tier: 2, at: h(8), events: tasks(2, COALITION, h(20)) },
      { tier: 3, at: h(8), events: tasks(3, WESTERN_FORCE, h(20)) },
    ]);
  });

  it('tasks nothing twice once tasks of that tier exist', () => {
    const state = spec
      .given(
        reported(),
        confirmed(),
        assessed('large-scale'),
        taskAssigned({
          taskId: 't2-PL-land',
          member: 'PL',
          capability: 'land',
          tier: 2,
          dueAt: h(14),
        }),
        taskAssigned({
          taskId: 't3-US-air',
          member: 'US',
          capability: 'air',
          tier: 3,
          dueAt: h(14),
        }),
      )
      .state();

    expect(sut(state)).toEqual([]);
  });
});

describe('AssignCoalitionTasks (the system command)', () => {
  const assign = { type: 'AssignCoalitionTasks', data: {} } as const;

  it('gives each task an id from the incident, tier, member and capability, due and occurring as the rule says', () => {
    spec
      .given(reported(), confirmed(), hostilitiesPersisted({ occurredAt: h(5) }))
      .when(assign)
      .then(
        COALITION.map(([member, capability]) => {
          const taskId = `${INCIDENT_ID}:task:2:${member}:${capability}`;
          return {
            type: 'CoalitionTaskAssigned',
            data: { taskId, member, capability, dueAt: h(17), tier: 2 },
            id: `${taskId}:assigned`,
            occurredAt: h(5),
          };
        }),
      );
  });

  it('is refused once the incident is resolved', () => {
    spec
      .given(reported(), confirmed(), assessed('large-scale'), resolved())
      .when(assign)
      .thenThrows(IllegalStateError, 'incident-resolved');
  });

  it('is refused for a rejected breach', () => {
    spec
      .given(reported(), rejected())
      .when(assign)
      .thenThrows(IllegalStateError, 'incident-rejected');
  });
});
