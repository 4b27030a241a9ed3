import { POLICY_V1 } from '@truceline/domain';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli';
import { readPolicyFile } from './what-if.command';
import { renderWhatIf, WhatIfOutput } from './what-if.table';

const EXAMPLES = join(__dirname, '..', '..', '..', '..', 'examples', 'policies');

/** A store that cannot be opened: any test reaching it would fail with another message. */
const NO_STORE = { DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none' };

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, NO_STORE, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('replay --policy FILE --diff', () => {
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'truceline-what-if-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [['replay', '--policy'], /--policy needs a value/],
    [['replay', '--policy', 'p.json'], /needs --diff/],
    [['replay', '--policy', 'p.json', '--diff', 'extra'], /replay takes no extra/],
    [['replay', '--policy', 'p.json', '--diff', '--colour'], /unknown option: --colour/],
  ])('refuses %j before reading anything: usage error, exit 2', async (argv, message) => {
    const { code, err, out } = await cli(argv);

    expect(code).toBe(2);
    expect(err).toMatch(message);
    expect(out).toBe('');
  });

  it('names a file it cannot read, exit 1', async () => {
    const { code, err } = await cli(['replay', '--policy', join(dir, 'absent.json'), '--diff']);

    expect(code).toBe(1);
    expect(err).toMatch(/absent\.json: cannot read it \(ENOENT\)/);
  });

  it('names a file that is not JSON, exit 1', async () => {
    const path = file('broken.json', '{ "warningWindowHours": 0.5,');

    const { code, err } = await cli(['replay', '--policy', path, '--diff']);

    expect(code).toBe(1);
    expect(err).toMatch(/broken\.json: not JSON/);
  });

  it('names every bad field as POST /v1/policies does, exit 1, before opening the store', async () => {
    const { version: _version, ...document } = POLICY_V1;
    const path = file(
      'invalid.json',
      JSON.stringify({
        ...document,
        warningWindowHours: 0,
        verifierRoster: ['UA', 'XX'],
        version: 9,
      }),
    );

    const { code, err } = await cli(['replay', '--policy', path, '--diff', '--json']);

    expect(code).toBe(1);
    expect(err).toMatch(/invalid policy document/);
    expect(err).toMatch(/warningWindowHours: warningWindowHours must be greater than 0/);
    expect(err).toMatch(/verifierRoster: verifierRoster holds unknown partner codes \(XX\)/);
    expect(err).toMatch(/version: property version should not exist/);
    expect(err).not.toMatch(/cannot open the store/);
  });
});

describe(readPolicyFile.name, () => {
  it('reads the example policies; v1.json is the shipped policy', () => {
    const { version: _version, ...shipped } = POLICY_V1;

    expect(readPolicyFile(join(EXAMPLES, 'v1.json'))).toEqual(shipped);
    expect(readPolicyFile(join(EXAMPLES, 'warning-within-30-minutes.json'))).toEqual({
      ...shipped,
      warningWindowHours: 0.5,
    });
  });
});

describe(renderWhatIf.name, () => {
  const output: WhatIfOutput = {
    policyFile: 'warning-30-minutes.json',
    policy: { ...POLICY_V1, warningWindowHours: 0.5, version: 2 },
    clock: 'exercise',
    historyEnd: '2026-03-07T04:00:00.000Z',
    events: 42,
    incidents: 1,
    differing: [
      {
        incidentId: '7d0c5a3e-2f1b-4c6d-9e8f-0a1b2c3d4e5f',
        sector: 'donetsk-north',
        exercise: true,
        status: { live: 'resolved', whatIf: 'resolved' },
        tiers: [
          { tier: 1, live: '2026-03-02T06:00:00.000Z', whatIf: '2026-03-02T06:00:00.000Z' },
          { tier: 2, live: '2026-03-03T10:00:00.000Z', whatIf: null },
        ],
        obligations: [
          {
            obligation: 'warning',
            live: {
              dueAt: '2026-03-03T06:00:00.000Z',
              status: 'met',
              satisfiedAt: '2026-03-02T07:00:00.000Z',
            },
            whatIf: { dueAt: '2026-03-02T06:30:00.000Z', status: 'missed' },
          },
        ],
        deadlinesMissed: [
          { obligation: 'warning', live: null, whatIf: { dueAt: '2026-03-02T06:30:00.000Z' } },
        ],
      },
    ],
  };

  it('lines the live and what-if columns up under their headings', () => {
    const lines = renderWhatIf(output).split('\n');

    const heading = lines.findIndex((l) => /^\s+LIVE\s+WHAT-IF$/.test(l));
    expect(heading).toBeGreaterThan(0);
    const column = lines[heading].indexOf('WHAT-IF');
    expect(lines.slice(heading + 1)).toEqual([
      expect.stringMatching(/^ {2}tier 1 reached +2026-03-02T06:00Z +same$/),
      expect.stringMatching(/^ {2}tier 2 reached +2026-03-03T10:00Z +never$/),
      expect.stringMatching(
        /^ {2}warning +met 2026-03-02T07:00Z, due 2026-03-03T06:00Z +MISSED, due 2026-03-02T06:30Z$/,
      ),
      expect.stringMatching(
        /^ {2}DeadlineMissed warning +did not happen +WOULD HAPPEN \(due 2026-03-02T06:30Z\)$/,
      ),
    ]);
    for (const line of lines.slice(heading + 1)) expect(line.charAt(column - 1)).toBe(' ');
    for (const line of lines.slice(heading + 1)) expect(line.charAt(column)).not.toBe(' ');
    expect(lines[heading - 1]).toBe(
      'Incident 7d0c5a3e-2f1b-4c6d-9e8f-0a1b2c3d4e5f (sector donetsk-north) EXERCISE',
    );
  });

  it('says plainly when nothing would differ', () => {
    const text = renderWhatIf({ ...output, differing: [] });

    expect(text).toMatch(/No incident would have gone otherwise under this policy\.$/);
    expect(text).toMatch(/judged at 2026-03-07T04:00Z \(the exercise clock\)/);
  });
});
