import { IllegalStateError } from '@truceline/domain';
import { migrate, SqlClient } from '@truceline/event-store';
import { EventEmitter } from 'node:events';
import { Clock } from './runtime.port';

export class SystemClock implements Clock {
  readonly mode = 'system' as const;
  now(): Date {
    return new Date();
  }
  advance(): Promise<Date> {
    throw new IllegalStateError('not-exercise', 'the clock can only be moved in exercise mode');
  }
}

/**
 * The exercise clock (SPEC §2): stands still until an operator moves it forward. It is kept in
 * the database so it survives a restart and every process of a distributed deployment follows
 * the same one; `refresh` picks up moves made by another process.
 */
export class ExerciseClock extends EventEmitter implements Clock {
  readonly mode = 'exercise' as const;
  private current: Date;
  private follower: NodeJS.Timeout | null = null;
  private following: Promise<void> = Promise.resolve();

  private constructor(
    private readonly sql: SqlClient,
    start: Date,
  ) {
    super();
    this.current = start;
  }

  /**
   * Opens the stored exercise clock. The stored clock wins (SPEC §2): `seed` only starts a store
   * that has none yet, so a restart never moves a drill's clock — not forward to the wall clock
   * (every open deadline would fall due and a DeadlineMissed that never happened in the drill
   * would stay in the log), not back. A `requested` start that disagrees with the stored clock
   * is handed to `onIgnoredStart` with both values, and ignored.
   */
  static async open(
    sql: SqlClient,
    seed: Date,
    options: {
      requested?: Date;
      onIgnoredStart?: (ignored: { requested: string; stored: string }) => void;
    } = {},
  ): Promise<ExerciseClock> {
    await migrate(sql, 'exercise-clock', [
      'CREATE TABLE IF NOT EXISTS exercise_clock (id int PRIMARY KEY, now timestamptz NOT NULL)',
    ]);
    // Several processes may start together on an empty store: the first insert seeds the clock,
    // the others keep it.
    await sql.query(
      'INSERT INTO exercise_clock (id, now) VALUES (1, $1) ON CONFLICT (id) DO NOTHING',
      [seed.toISOString()],
    );
    const { rows } = await sql.query<{ now: Date | string }>(
      'SELECT now FROM exercise_clock WHERE id = 1',
    );
    const stored = new Date(rows[0].now);
    const { requested, onIgnoredStart } = options;
    if (requested && requested.getTime() !== stored.getTime())
      onIgnoredStart?.({ requested: requested.toISOString(), stored: stored.toISOString() });
    return new ExerciseClock(sql, stored);
  }

  now(): Date {
    return new Date(this.current.getTime());
  }

  async advance(to: Date): Promise<Date> {
    if (to.getTime() < this.current.getTime())
      throw new IllegalStateError(
        'clock-backwards',
        `the exercise clock stands at ${this.current.toISOString()} and cannot move back`,
      );
    const { rows } = await this.sql.query<{ now: Date | string }>(
      'UPDATE exercise_clock SET now = $1 WHERE id = 1 AND now <= $1 RETURNING now',
      [to.toISOString()],
    );
    if (rows.length === 0) {
      await this.refresh();
      throw new IllegalStateError(
        'clock-backwards',
        `the exercise clock stands at ${this.current.toISOString()} and cannot move back`,
      );
    }
    this.set(new Date(rows[0].now));
    return this.now();
  }

  /**
   * Every process follows the same exercise clock (SPEC §8): a move made through another process
   * is picked up within `intervalMs`, and deadlines passed by it fall due here too.
   */
  follow(intervalMs: number, onError: (error: unknown) => void): void {
    if (this.follower) return;
    this.follower = setInterval(() => {
      this.following = this.refresh().catch(onError);
    }, intervalMs);
  }

  /** Stops following; resolves once a refresh in flight has finished. */
  async unfollow(): Promise<void> {
    if (this.follower) clearInterval(this.follower);
    this.follower = null;
    await this.following;
  }

  async refresh(): Promise<void> {
    const { rows } = await this.sql.query<{ now: Date | string }>(
      'SELECT now FROM exercise_clock WHERE id = 1',
    );
    if (rows[0]) this.set(new Date(rows[0].now));
  }

  private set(now: Date): void {
    if (now.getTime() <= this.current.getTime()) return;
    this.current = now;
    this.emit('advanced', this.now());
  }
}

/**
 * The store's exercise clock as it stands, read only: null when the store never ran a drill.
 * For tools that must change nothing (the what-if replay), unlike `ExerciseClock.open`, which
 * creates and seeds it.
 */
export async function readExerciseClock(sql: SqlClient): Promise<Date | null> {
  const { rows: table } = await sql.query<{ present: boolean }>(
    "SELECT to_regclass('exercise_clock') IS NOT NULL AS present",
  );
  if (!table[0].present) return null;
  const { rows } = await sql.query<{ now: Date | string }>(
    'SELECT now FROM exercise_clock WHERE id = 1',
  );
  return rows[0] ? new Date(rows[0].now) : null;
}

/** The clock the configuration asks for: every process of a deployment opens the same one. */
export async function openClock(
  sql: SqlClient,
  config: { clock: 'system' | 'exercise'; clockStart?: string },
  onIgnoredStart: (message: string) => void = (message) => console.warn(message),
): Promise<Clock> {
  if (config.clock !== 'exercise') return new SystemClock();
  const requested = config.clockStart ? new Date(config.clockStart) : undefined;
  return ExerciseClock.open(sql, requested ?? new Date(), {
    requested,
    onIgnoredStart: ({ requested, stored }) =>
      onIgnoredStart(ignoredStartMessage(requested, stored)),
  });
}

/** What an operator reads when a restart asked for another start than the drill's clock. */
export const ignoredStartMessage = (requested: string, stored: string): string =>
  `TRUCELINE_CLOCK_START=${requested} ignored: this store's exercise clock stands at ${stored}, ` +
  'and a restart never moves it (move it forward with POST /v1/exercise/clock; a new drill ' +
  'starts on an empty store)';
