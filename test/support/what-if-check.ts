import { POLICY_V1 } from '@truceline/domain';
import { openDatabase, OpenDatabaseOptions } from '@truceline/event-store';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../apps/cli/src/cli';
import type { CliEnvironment } from '../../apps/cli/src/cli-environment';

/** What a what-if must leave exactly as it was: the log, the read models, the exercise clock. */
async function snapshot(store: OpenDatabaseOptions): Promise<Record<string, unknown>> {
  const sql = await openDatabase(store);
  try {
    const rows = async (text: string) => (await sql.query<Record<string, unknown>>(text)).rows;
    return {
      head: (await rows('SELECT max(position) AS head, count(*)::int AS n FROM events'))[0],
      incidentView: await rows('SELECT * FROM incident_view ORDER BY incident_id'),
      feeds: await rows('SELECT * FROM partner_feed_runs ORDER BY partner, first_seq'),
      feedItems: await rows('SELECT * FROM partner_feed_items ORDER BY item'),
      clock: await rows('SELECT now FROM exercise_clock'),
    };
  } finally {
    await sql.close();
  }
}

async function cli(env: CliEnvironment, argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/**
 * `truceline replay --policy FILE --diff` (SPEC §9) on a store the shared scenarios ran on: the
 * shipped policy makes no incident differ; a 30-minute warning window misses the seed scenario's
 * warning (confirmed 2 h in, warned on the decision 1 h later); a malformed file is refused;
 * and the log, the read models and the exercise clock are exactly as they were.
 */
export async function expectWhatIfOfSharedScenarios(
  store: OpenDatabaseOptions,
  env: CliEnvironment,
  seed: { incidentId: string; t0: string },
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'truceline-what-if-'));
  const file = (name: string, document: unknown) => {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(document));
    return path;
  };
  const at = (hours: number) => new Date(Date.parse(seed.t0) + hours * 3_600_000).toISOString();
  const { version: _version, ...shipped } = POLICY_V1;
  try {
    const before = await snapshot(store);

    const same = await cli(env, [
      'replay',
      '--policy',
      file('shipped', shipped),
      '--diff',
      '--json',
    ]);
    expect(same.err).toBe('');
    expect(same.code).toBe(0);
    const unchanged = JSON.parse(same.out);
    expect(unchanged.clock).toBe('exercise');
    expect(unchanged.incidents).toBeGreaterThanOrEqual(3);
    expect(unchanged.differing).toEqual([]);

    const thirtyMinutes = file('warning-30-minutes', { ...shipped, warningWindowHours: 0.5 });
    const json = await cli(env, ['replay', '--policy', thirtyMinutes, '--diff', '--json']);
    expect(json.code).toBe(0);
    const difference = JSON.parse(json.out).differing.find(
      (d: { incidentId: string }) => d.incidentId === seed.incidentId,
    );
    expect(difference).toMatchObject({
      tiers: [0, 1, 2, 3].map((tier) => ({ tier, live: expect.any(String) })),
      obligations: [
        {
          obligation: 'warning',
          live: { dueAt: at(26), status: 'met', satisfiedAt: at(3) },
          whatIf: { dueAt: at(2.5), status: 'missed' },
        },
      ],
      deadlinesMissed: [{ obligation: 'warning', live: null, whatIf: { dueAt: at(2.5) } }],
    });
    const table = await cli(env, ['replay', '--policy', thirtyMinutes, '--diff']);
    expect(table.code).toBe(0);
    expect(table.out).toContain(`Incident ${seed.incidentId}`);
    expect(table.out).toMatch(/tier 3 reached +\S+ +same/);
    expect(table.out).toMatch(/DeadlineMissed warning +did not happen +WOULD HAPPEN \(due /);

    const tooHighQuorum = file('malformed', { ...shipped, verificationQuorum: 9 });
    const malformed = await cli(env, ['replay', '--policy', tooHighQuorum, '--diff']);
    expect(malformed.code).toBe(1);
    expect(malformed.err).toMatch(/verificationQuorum must be at most the size of verifierRoster/);

    expect(await snapshot(store)).toEqual(before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
