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

const task = (overrides: Partial<TaskView>): TaskView => ({
  taskId: 'task-1',
  tier: 2,
  member: 'GB',
  capability: 'air',
  dueAt: '2026-03-03T22:00:00.000Z',
  status: 'assigned',
  ...overrides,
});

describe('replaceRun', () => {
  it('replaces {run} in nested strings, lists and keys, leaving other values alone', () => {
    const sut = replaceRun(
      {
        location: { sector: 'donetsk-{run}', frontlineKm: 12 },
        tags: ['a-{run}-{run}'],
        '{run}': true,
      },
      'r1',
    );

    expect(sut).toEqual({
      location: { sector: 'donetsk-r1', frontlineKm: 12 },
      tags: ['a-r1-r1'],
      r1: true,
    });
  });

  it('does not change the scenario it was given', () => {
    const body = { summary: '{run}' };

    replaceRun(body, 'r1');

    expect(body.summary).toBe('{run}');
  });
});

describe(IncidentRegistry.name, () => {
  it('resolves the first report as the default and named reports by name', () => {
    const sut = new IncidentRegistry();
    sut.record('first');
    sut.record('second', 'spill-over');

    expect(sut.resolve()).toBe('first');
    expect(sut.resolve('spill-over')).toBe('second');
  });

  it('names what is missing', () => {
    const sut = new IncidentRegistry();

    expect(() => sut.resolve()).toThrow(/no incident yet/);
    expect(() => sut.resolve('other')).toThrow(/"as": "other"/);
  });
});

describe('resolvePath', () => {
  const incidents = new IncidentRegistry();
  incidents.record('inc-1');
  incidents.record('inc-2', 'north');

  it('replaces {incident}, {incident:NAME} and {run}', () => {
    expect(resolvePath('/v1/incidents/{incident}/findings', 'r1', incidents)).toBe(
      '/v1/incidents/inc-1/findings',
    );
    expect(resolvePath('/v1/incidents/{incident:north}/hostilities?x={run}', 'r1', incidents)).toBe(
      '/v1/incidents/inc-2/hostilities?x=r1',
    );
  });

  it('leaves task placeholders for the runner to look up', () => {
    const path = resolvePath(
      '/v1/incidents/{incident}/coalition-tasks/{task:DE:air-defence}/acknowledge',
      'r1',
      incidents,
    );

    expect(taskPlaceholders(path)).toEqual([
      { placeholder: '{task:DE:air-defence}', member: 'DE', capability: 'air-defence' },
    ]);
    expect(incidentOfPath(path)).toBe('inc-1');
    expect(unknownPlaceholders(path)).toEqual([]);
  });

  it('reports placeholders it does not know', () => {
    expect(unknownPlaceholders('/v1/incidents/{incdent}/x')).toEqual(['{incdent}']);
  });
});

describe('pickTask', () => {
  it('picks the unanswered task of that member and capability', () => {
    const tasks = [
      task({ taskId: 'fr-air', member: 'FR' }),
      task({ taskId: 'gb-land', capability: 'land' }),
      task({ taskId: 'gb-air' }),
    ];

    expect(pickTask(tasks, 'GB', 'air')?.taskId).toBe('gb-air');
  });

  it('skips answered tasks, so a tier 3 task follows the acknowledged tier 2 one', () => {
    const tasks = [
      task({ taskId: 'tier2', status: 'acknowledged' }),
      task({ taskId: 'tier3', tier: 3, dueAt: '2026-03-04T18:00:00.000Z' }),
    ];

    expect(pickTask(tasks, 'GB', 'air')?.taskId).toBe('tier3');
  });

  it('prefers the highest tier, then the latest dueAt', () => {
    const tasks = [
      task({ taskId: 'tier3', tier: 3, dueAt: '2026-03-04T00:00:00.000Z' }),
      task({ taskId: 'tier2-later', tier: 2, dueAt: '2026-03-05T00:00:00.000Z' }),
      task({ taskId: 'tier3-later', tier: 3, dueAt: '2026-03-04T06:00:00.000Z' }),
    ];

    expect(pickTask(tasks, 'GB', 'air')?.taskId).toBe('tier3-later');
    expect(pickTask(tasks.slice(0, 2), 'GB', 'air')?.taskId).toBe('tier3');
  });

  it('finds nothing when every matching task was answered', () => {
    expect(pickTask([task({ status: 'declined' })], 'GB', 'air')).toBeUndefined();
  });
});
