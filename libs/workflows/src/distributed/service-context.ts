import type { TrucelineConfig } from '@truceline/config';
import { openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import { IncidentViews, migrateIncidentView, PolicyRegistry } from '@truceline/projections';
import { ExerciseClock, openClock } from '../clock';
import { IncidentCommandHandler } from '../incident-command.handler';
import { Clock } from '../runtime.port';

export interface ServiceContextOptions {
  /** How soon a move of the exercise clock made through another process is seen (default 500 ms). */
  clockFollowIntervalMs?: number;
  onError?: (message: string, error: unknown) => void;
  /** Something an operator should know at start, e.g. an ignored TRUCELINE_CLOCK_START. */
  onWarning?: (message: string) => void;
}

/**
 * What a process that reacts to the log needs, opened once: the database, the store, the clock
 * every process shares (the exercise clock lives in the database and is followed), the adopted
 * escalation policies, the incident views kept by the API's projection, and the incident
 * command handler the services send their commands through. Used by the Kafka-fed service
 * processes, and by any process (e.g. the API running the deadline scheduler) that needs them.
 */
export class ServiceContext {
  constructor(
    readonly config: TrucelineConfig,
    readonly sql: SqlClient,
    readonly store: SqlEventStore,
    readonly clock: Clock,
    readonly policies: PolicyRegistry,
    readonly views: IncidentViews,
    readonly incidents: IncidentCommandHandler,
  ) {}

  static async open(
    config: TrucelineConfig,
    options: ServiceContextOptions = {},
  ): Promise<ServiceContext> {
    const sql = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    try {
      const clock: Clock = await openClock(sql, config, options.onWarning);
      const store = new SqlEventStore(sql, { now: () => clock.now() });
      await store.init();
      // The API's projection fills the views; migrating here lets a service start first.
      await migrateIncidentView(sql);
      const policies = new PolicyRegistry(store, { exercise: clock.mode === 'exercise' });
      await policies.load();
      if (clock instanceof ExerciseClock) {
        clock.follow(options.clockFollowIntervalMs ?? 500, (error) =>
          options.onError?.('exercise clock refresh failed', error),
        );
      }
      const views = new IncidentViews(sql);
      const incidents = new IncidentCommandHandler(store, policies, clock, views);
      return new ServiceContext(config, sql, store, clock, policies, views, incidents);
    } catch (error) {
      await sql.close().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.clock instanceof ExerciseClock) await this.clock.unfollow();
    await this.store.close();
    await this.sql.close();
  }
}

export const createServiceContext = (
  config: TrucelineConfig,
  options?: ServiceContextOptions,
): Promise<ServiceContext> => ServiceContext.open(config, options);
