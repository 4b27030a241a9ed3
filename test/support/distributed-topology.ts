import { incidentStreamId, StoredEvent } from '@truceline/domain';
import { EVENTS_CHANNEL, SqlClient, SqlEventStore } from '@truceline/event-store';
import { consumerGroupOf, EVENTS_TOPIC } from '@truceline/messaging';
import { ProcessPart, PROCESSES } from '@truceline/workflows';
import { Admin, AssignerProtocol } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port';
import { BuiltAppProcess, ensureBuiltEntries, ProcessGroup } from './process-group';

/** The processes of distributed mode, by name: the one list start:distributed runs. */
export const DISTRIBUTED_APPS: Readonly<Record<string, Pick<ProcessPart, 'entry' | 'args'>>> =
  Object.fromEntries(PROCESSES.map((p) => [p.name, { entry: p.entry, args: p.args }]));

/** The Kafka-fed services, each in its consumer group `truceline.<name>`. */
export const CONSUMING_SERVICES = PROCESSES.filter((p) => p.consumer).map((p) => p.name);

export interface TopologyOptions {
  databaseUrl: string;
  brokers: string;
  jwtSecret: string;
  /** How many instances of verification run in its one group (named verification-a, -b, …). */
  verificationInstances: number;
  /** More variables for one process (by name: api, relay, scheduler, verification-a, …). */
  envOf?: (process: string) => Record<string, string>;
}

/**
 * Starts distributed mode as the launcher does — the API first (its migrations and policy
 * adoption precede the others), then the relay (it creates the topic), then the scheduler and
 * the services — each a separate `node dist/...` process, and waits until every one is ready.
 * The processes go into `group`, so the caller's afterAll kills whatever did start.
 */
export async function startDistributedTopology(
  group: ProcessGroup,
  options: TopologyOptions,
): Promise<{ api: BuiltAppProcess; baseUrl: string }> {
  ensureBuiltEntries(Object.values(DISTRIBUTED_APPS).map((app) => app.entry));
  const common = {
    DATABASE_URL: options.databaseUrl,
    KAFKA_BROKERS: options.brokers,
    TRUCELINE_CLOCK: 'exercise',
    TRUCELINE_JWT_SECRET: options.jwtSecret,
    LOG_LEVEL: 'warn',
  };
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const api = group.add({
    name: 'api',
    ...DISTRIBUTED_APPS.api,
    env: { ...common, PORT: String(port), ...options.envOf?.('api') },
    readyUrl: `${baseUrl}/health/ready`,
  });
  const service = async (
    name: string,
    app: Pick<ProcessPart, 'entry' | 'args'>,
    instance: string,
  ) => {
    const metricsPort = await freePort();
    return group.add({
      name,
      entry: app.entry,
      args: app.args,
      env: {
        ...common,
        METRICS_PORT: String(metricsPort),
        TRUCELINE_SERVICE_INSTANCE: instance,
        ...options.envOf?.(name),
      },
      readyUrl: `http://127.0.0.1:${metricsPort}/health/ready`,
    });
  };
  const relay = await service('relay', DISTRIBUTED_APPS.relay, 'relay-1');
  const others: BuiltAppProcess[] = [];
  for (const app of PROCESSES.filter((p) => p.name !== 'api' && p.name !== 'relay')) {
    if (app.name !== 'verification') {
      others.push(await service(app.name, app, `${app.name}-1`));
      continue;
    }
    for (let i = 0; i < options.verificationInstances; i++) {
      const instance = verificationInstance(i);
      others.push(await service(instance, app, instance));
    }
  }

  for (const first of [api, relay]) {
    first.start();
    await first.waitUntilReady();
  }
  others.forEach((p) => p.start());
  await Promise.all(others.map((p) => p.waitUntilReady()));
  return { api, baseUrl };
}

export const verificationInstance = (index: number): string =>
  `verification-${String.fromCharCode(97 + index)}`;

/** The metrics endpoint of a service process (its /health/ready's sibling). */
export const metricsUrlOf = (app: BuiltAppProcess): string =>
  app.options.readyUrl.replace(/\/health\/ready$/, '/metrics');

/** Sum of a Prometheus counter over all its label sets (0 while it has none). */
export async function scrapeCounter(app: BuiltAppProcess, metric: string): Promise<number> {
  const response = await fetch(metricsUrlOf(app), { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`${app.name} /metrics → ${response.status}`);
  return (await response.text())
    .split('\n')
    .filter((line) => line.startsWith(`${metric}{`) || line.startsWith(`${metric} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

export interface GroupMembership {
  state: string;
  members: { memberId: string; partitions: number[] }[];
}

/** The consumer group as the broker's coordinator describes it, with decoded assignments. */
export async function describeGroup(
  admin: Admin,
  groupId: string,
  topic = EVENTS_TOPIC,
): Promise<GroupMembership> {
  const { groups } = await admin.describeGroups([groupId]);
  const described = groups[0];
  return {
    state: described?.state ?? 'Unknown',
    members: (described?.members ?? []).map((member) => {
      const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
      return {
        memberId: member.memberId,
        partitions: [...(decoded?.assignment[topic] ?? [])].sort((a, b) => a - b),
      };
    }),
  };
}

export interface LogState {
  events: number;
  head: number;
  relayCheckpoint: number;
  /** Per consumer group: event ids recorded as handled, and messages parked. */
  processed: Record<string, number>;
  parked: Record<string, number>;
}

/** Reads what the processes left in PostgreSQL: the log, the relay's checkpoint, the ledgers. */
export class LogInspector {
  private readonly store: SqlEventStore;

  constructor(private readonly sql: SqlClient) {
    this.store = new SqlEventStore(sql);
  }

  async state(): Promise<LogState> {
    const count = async (text: string, params: unknown[] = []) =>
      Number((await this.sql.query<{ n: string }>(text, params)).rows[0].n);
    const processed: Record<string, number> = {};
    const parked: Record<string, number> = {};
    for (const service of CONSUMING_SERVICES) {
      const groupId = consumerGroupOf(service);
      processed[service] = await count(
        'SELECT count(*)::text AS n FROM consumer_processed WHERE group_id = $1',
        [groupId],
      );
      parked[service] = await count(
        'SELECT count(*)::text AS n FROM parked_messages WHERE group_id = $1',
        [groupId],
      );
    }
    return {
      events: await count('SELECT count(*)::text AS n FROM events'),
      head: await this.store.headPosition(),
      relayCheckpoint: await this.store.readCheckpoint(`relay:${EVENTS_TOPIC}`),
      processed,
      parked,
    };
  }

  /**
   * Waits until nothing is under way: everything stored was published, every group handled (or
   * parked) every event, and the log stopped growing — the reactions of reactions included.
   */
  async waitUntilSettled(timeoutMs: number): Promise<LogState> {
    const giveUpAt = Date.now() + timeoutMs;
    let previous: LogState | undefined;
    for (;;) {
      const state = await this.state();
      const quiet =
        state.relayCheckpoint >= state.head &&
        CONSUMING_SERVICES.every((s) => state.processed[s] + state.parked[s] === state.events) &&
        previous?.head === state.head;
      if (quiet) return state;
      if (Date.now() > giveUpAt)
        throw new Error(`the log did not settle in ${timeoutMs} ms: ${JSON.stringify(state)}`);
      previous = state;
      await sleep(500);
    }
  }

  /**
   * The cause of the incident's first `type` event appended by `actorId` (a service's reaction;
   * `tier` narrows coalition tasks), if there is one yet. One indexed query: cheap to poll fast.
   */
  async reactionCause(
    incidentId: string,
    type: string,
    actorId: string,
    tier?: number,
  ): Promise<{ causationId: string } | undefined> {
    const { rows } = await this.sql.query<{ cause: string }>(
      `SELECT coalesce(metadata->>'causationId', '') AS cause FROM events
        WHERE stream_id = $1 AND type = $2 AND metadata->'actor'->>'id' = $3
          AND ($4::int IS NULL OR (data->>'tier')::int = $4)
        LIMIT 1`,
      [incidentStreamId(incidentId), type, actorId, tier ?? null],
    );
    return rows.length > 0 ? { causationId: rows[0].cause } : undefined;
  }

  /** Whether the service's group recorded the event as handled (its offset commit follows). */
  async handled(service: string, eventId: string): Promise<boolean> {
    const { rows } = await this.sql.query(
      'SELECT 1 FROM consumer_processed WHERE group_id = $1 AND event_id = $2',
      [consumerGroupOf(service), eventId],
    );
    return rows.length > 0;
  }

  async readAll(): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    for (let after = 0; ;) {
      const page = await this.store.readAll({ after, limit: 1000 });
      if (page.length === 0) return events;
      events.push(...page);
      after = page[page.length - 1].position;
    }
  }
}

/**
 * Every commit that appended to the log, as PostgreSQL announces it (NOTIFY at COMMIT): lets a
 * test act within a query's time of another process's append.
 */
export class AppendSignal {
  private waiters: (() => void)[] = [];
  private unlisten: (() => Promise<void>) | undefined;

  static async open(sql: SqlClient): Promise<AppendSignal> {
    if (!sql.listen) throw new Error('LISTEN needs PostgreSQL');
    const signal = new AppendSignal();
    signal.unlisten = await sql.listen(EVENTS_CHANNEL, () => signal.appended());
    return signal;
  }

  /**
   * Resolves as soon as `check` holds, checking again at each commit (and every 25 ms, in case
   * a notification is lost); false after `timeoutMs`.
   */
  async when(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<boolean> {
    const giveUpAt = Date.now() + timeoutMs;
    while (Date.now() < giveUpAt) {
      // Armed before the check, so a commit during the check is not missed.
      const next = new Promise<void>((resolve) => this.waiters.push(resolve));
      if (await check()) return true;
      await Promise.race([next, sleep(25)]);
    }
    return false;
  }

  private appended(): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((resolve) => resolve());
  }

  async close(): Promise<void> {
    await this.unlisten?.();
  }
}
