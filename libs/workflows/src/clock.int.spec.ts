import { openDatabase, SqlClient } from '@truceline/event-store';
import { ExerciseClock, openClock } from './clock';

const DRILL_START = '2026-03-01T00:00:00.000Z';
const DRILL_NOW = '2026-03-01T01:00:00.000Z';

describe(ExerciseClock.name, () => {
  let sql: SqlClient;
  // One embedded database for the suite (opening one takes seconds); each test starts unseeded.
  beforeAll(async () => {
    sql = await openDatabase({ inMemory: true });
    await ExerciseClock.open(sql, new Date());
  });
  beforeEach(() => sql.query('DELETE FROM exercise_clock'));
  afterAll(() => sql.close());

  const open = (clockStart: string | undefined, warnings: string[] = []) =>
    openClock(sql, { clock: 'exercise', clockStart }, (message) => warnings.push(message));

  it('seeds an empty store with TRUCELINE_CLOCK_START', async () => {
    const sut = await open(DRILL_START);
    expect(sut.now().toISOString()).toBe(DRILL_START);
  });

  it('seeds an empty store with the wall clock when no start is given', async () => {
    const before = Date.now();
    const sut = await open(undefined);
    expect(sut.now().getTime()).toBeGreaterThanOrEqual(before);
    expect(sut.now().getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('keeps the stored clock at a restart without a start: never the wall clock', async () => {
    await (await open(DRILL_START)).advance(new Date(DRILL_NOW));
    const warnings: string[] = [];
    const sut = await open(undefined, warnings);
    expect(sut.now().toISOString()).toBe(DRILL_NOW);
    expect(warnings).toEqual([]);
  });

  it.each([
    ['later', '2026-05-01T00:00:00.000Z'],
    ['earlier', '2026-01-01T00:00:00.000Z'],
  ])('reports a %s start that disagrees, naming both values, and ignores it', async (_, start) => {
    await (await open(DRILL_START)).advance(new Date(DRILL_NOW));
    const warnings: string[] = [];
    const sut = await open(start, warnings);
    expect(sut.now().toISOString()).toBe(DRILL_NOW);
    expect(warnings).toEqual([
      expect.stringContaining(
        `TRUCELINE_CLOCK_START=${start} ignored: this store's exercise clock stands at ${DRILL_NOW}`,
      ),
    ]);
    const { rows } = await sql.query<{ now: Date | string }>('SELECT now FROM exercise_clock');
    expect(new Date(rows[0].now).toISOString()).toBe(DRILL_NOW);
  });

  it('says nothing when the start given agrees with the stored clock', async () => {
    await open(DRILL_START);
    const warnings: string[] = [];
    await open(DRILL_START, warnings);
    expect(warnings).toEqual([]);
  });
});
