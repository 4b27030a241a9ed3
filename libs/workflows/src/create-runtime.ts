import { loadPartners, signingKeyOf, type TrucelineConfig } from '@truceline/config';
import { incidentStreamId, StoredEvent } from '@truceline/domain';
import {
  asRequest,
  BatchEventHandler,
  deterministicId,
  EventHandler,
  EventStore,
  openDatabase,
  SqlClient,
  SqlEventStore,
  Subscription,
} from '@truceline/event-store';
import { Ledger, migrateLedger, parseSigningKey } from '@truceline/ledger';
import {
  buildIncidentAudit,
  checkpointOf,
  eventsKnownAt,
  FeedProjection,
  FeedQueries,
  FEEDS,
  INCIDENTS,
  MAX_FEED_PAGE,
  IncidentViews,
  migrateProjection,
  PolicyRegistry,
  PROJECTIONS,
  rebuildProjection,
} from '@truceline/projections';
import { ExerciseClock, openClock } from './clock';
import { acknowledgeNotice, PartnerFeeds } from './feeds';
import { IdempotencyKeys, migrateIdempotency, releaseAbandonedClaims } from './idempotency-keys';
import { IncidentCommandService } from './incident-commands.service';
import { IncidentCommandHandler } from './incident-command.handler';
import {
  Clock,
  DependencyHealth,
  DependencyStatus,
  IncidentCommands,
  IncidentQueries,
  PolicyPort,
  Runtime,
} from './runtime.port';
import { SERVICES } from './services';
import { eventHandlerOf, ServiceContext, ServiceWorker } from './distributed';

export interface RuntimeLogger {
  log(message: string): void;
  /** Things an operator should know (e.g. an ignored TRUCELINE_CLOCK_START); default: log. */
  warn?(message: string): void;
  error(message: string, error?: unknown): void;
}

export interface RuntimeOptions {
  /** Run verification, coalition tasking, notification and the deadline scheduler in-process. */
  services?: boolean;
  logger?: RuntimeLogger;
}

/** How soon a process sees the exercise clock moved through another one (SPEC §8). */
const CLOCK_FOLLOW_INTERVAL_MS = 500;

/**
 * Events per page of a projection other than the incident view, on the embedded store. PGlite
 * runs on this thread and a page is one transaction, during which nothing else of the process
 * runs: the partner feeds cost about half a millisecond of this thread per event on a quiet
 * machine (ten partners' entries written), so a page of 100, as the feeds read once they fell
 * behind, held every request up for 50–200 ms. A page also has a fixed cost (about a
 * millisecond: its dozen statements), which a smaller page pays more often: 16 keeps a page
 * under about 10 ms at a few percent more CPU per event.
 */
const EMBEDDED_BACKGROUND_PAGE = 16;

/**
 * Events per page of the partner feeds on PostgreSQL: the page the shared log reader asks the
 * store for. Under a load of reports the feeds' projector falls behind the other subscriptions
 * (a page writes two or three entries an event), beyond the reader's window, and then read the
 * log again for itself, a page of 500 at a time, but applied it 100 events a transaction: six
 * statements and a plan of the folds' read every fifth of a page. A page of the reader's size
 * pays them once; at the tail a page is whatever is new, as before.
 */
const POSTGRES_FEED_PAGE = MAX_FEED_PAGE;

const consoleLogger: RuntimeLogger = {
  log: (m) => console.log(m),
  warn: (m) => console.warn(m),
  error: (m, e) => console.error(m, e),
};

/**
 * The composition root of the embedded mode: one store, every projection of PROJECTIONS and
 * every service of SERVICES, each on its own durable store subscription — the same definitions
 * the distributed processes run from Kafka.
 */
export class EmbeddedRuntime implements Runtime {
  private readonly subscriptions: Subscription[] = [];
  private ready = false;
  private readonly workers = new Map<string, ServiceWorker>();

  private constructor(
    readonly clock: Clock,
    readonly store: EventStore,
    readonly sql: SqlClient,
    private readonly commandService: IncidentCommandService,
    private readonly keys: IdempotencyKeys,
    readonly views: IncidentViews,
    private readonly registry: PolicyRegistry,
    private readonly logger: RuntimeLogger,
    /** What the services run on; closing it closes the clock, the store and the database. */
    private readonly context: ServiceContext,
  ) {}

  /** Escalation policy versions (SPEC §3): an adoption governs every event appended afterwards. */
  readonly policies: PolicyPort = {
    list: () => this.registry.list(),
    adopt: (document, { idempotencyKey: key, ...context }) => {
      const adopt = (eventId?: string) =>
        this.registry.adopt(document, {
          ...context,
          occurredAt: this.clock.now().toISOString(),
          eventId,
        });
      if (!key) return adopt();
      const actorId = context.actor.id;
      return this.keys.once(actorId, key, { policy: document }, async (generation) => {
        // The event id derives from the key: a retry that takes over the key from a request
        // that crashed after adopting finds that adoption instead of adopting again.
        const eventId = deterministicId('policy', actorId, key, generation);
        return (await this.registry.adoption(eventId)) ?? adopt(eventId);
      });
    },
  };

  private projection: Subscription | null = null;

  /** The partner feeds (SPEC §7), set by create before the runtime is handed out. */
  feeds!: PartnerFeeds;

  /** The tamper-evident log (SPEC §10): its sealer runs behind the appends of every process. */
  ledger!: Ledger;

  /**
   * Commands answer once the incident view shows their effect (read-your-writes), so a client
   * that reads the incident right after a 201 sees its own command and a current ETag.
   */
  readonly commands: IncidentCommands = {
    execute: async (incidentId, command, context) => {
      const result = await this.commandService.execute(incidentId, command, context);
      await this.projection?.waitFor(result.position, 5_000).catch(() => undefined);
      return result;
    },
  };

  static async create(
    config: TrucelineConfig,
    options: RuntimeOptions = {},
  ): Promise<EmbeddedRuntime> {
    const logger = options.logger ?? consoleLogger;
    // Read before anything opens: a bad partners file fails the boot with nothing to clean up.
    loadPartners(config.partnersFile);
    const signer = parseSigningKey(signingKeyOf(config));
    const sql = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    const clock: Clock = await openClock(sql, config, (message) =>
      (logger.warn ?? logger.log).call(logger, message),
    );
    const store = new SqlEventStore(sql, { now: () => clock.now() });
    await store.init();
    for (const definition of PROJECTIONS) await migrateProjection(sql, definition);
    await migrateIdempotency(sql);
    if (!config.databaseUrl) await releaseAbandonedClaims(sql);
    await migrateLedger(sql);
    const policies = new PolicyRegistry(store, { exercise: clock.mode === 'exercise' });
    await policies.load();
    const views = new IncidentViews(sql);
    const incidents = new IncidentCommandHandler(store, policies, clock, views);
    const keys = new IdempotencyKeys(sql, { ttlHours: config.idempotencyTtlHours });
    const commands = new IncidentCommandService(incidents, clock, keys);
    // With Kafka the services run as their own processes, fed by the relay (SPEC §8 KAFKA_BROKERS).
    const withServices = options.services ?? !config.kafkaBrokers?.length;
    const context = new ServiceContext(config, sql, store, clock, policies, views, incidents);
    const runtime = new EmbeddedRuntime(
      clock,
      store,
      sql,
      commands,
      keys,
      views,
      policies,
      logger,
      context,
    );
    const followers = new Map<string, Subscription>();
    let feedProjection: FeedProjection | undefined;
    for (const definition of PROJECTIONS) {
      const projection = definition.create(sql, policies);
      const checkpoint = checkpointOf(definition);
      // A new projection version starts from an empty checkpoint: its tables are rebuilt from
      // the log beside the old ones and swapped in (other processes keep reading the old ones
      // meanwhile), and its runner goes on from where the rebuild stopped.
      if ((await store.readCheckpoint(checkpoint)) === 0) {
        const rebuilt = await rebuildProjection(sql, policies, definition);
        if (rebuilt.events > 0)
          logger.log(
            `projection ${definition.name} v${definition.version} rebuilt from ${rebuilt.events} events in ${rebuilt.milliseconds} ms`,
          );
      }
      const handler = { batch: (events: readonly StoredEvent[]) => projection.applyBatch(events) };
      const readYourWrites = definition.name === INCIDENTS.name;
      followers.set(
        definition.name,
        // PostgreSQL's pool serves requests and background work at once: nothing to mark.
        config.databaseUrl
          ? await runtime.follow(
              checkpoint,
              handler,
              definition.name === FEEDS.name ? { batchSize: POSTGRES_FEED_PAGE } : {},
            )
          : readYourWrites
            ? // Commands answer once the incident view shows them (see commands): embedded, its
              // pages take turns with the requests, not behind the background work.
              await asRequest(() => runtime.follow(checkpoint, handler))
            : await runtime.follow(checkpoint, handler, { batchSize: EMBEDDED_BACKGROUND_PAGE }),
      );
      if (projection instanceof FeedProjection) feedProjection = projection;
    }
    runtime.projection = followers.get(INCIDENTS.name) ?? null;
    if (!feedProjection) throw new Error('the partner feeds are not among the projections');
    const feedAppended = feedProjection;
    // Every checkpoint goes to every partner's feed in the transaction that stores it (SPEC §10).
    let published: string[] = [];
    // On PostgreSQL the running sealer reads and hashes on a thread of its own at the lowest
    // priority, through its own connection, so it takes no CPU the appends want (SPEC §10).
    // Embedded, the database lives on this thread: the sealer reads the pages the
    // subscriptions share (store.log), mostly finding its next page there.
    runtime.ledger = new Ledger(sql, store.log, signer, {
      sealingThread: config.databaseUrl ? { databaseUrl: config.databaseUrl } : undefined,
      now: () => clock.now(),
      onCheckpoint: async (tx, checkpoint, position) => {
        published = await feedAppended.publishCheckpoint(tx, checkpoint, {
          origin: signer.name,
          position,
          exercise: clock.mode === 'exercise',
        });
      },
      onCheckpointCommitted: (_, position) => feedAppended.announce(position, published),
      onError: (e) => logger.error('sealing the log failed; retrying', e),
    });
    const feedQueries = new FeedQueries(sql);
    runtime.feeds = {
      page: (partner, after, limit) => feedQueries.page(partner, after, limit),
      entry: (partner, eventId) => feedQueries.entry(partner, eventId),
      head: (partner) => feedQueries.head(partner),
      acknowledge: async (partner, eventId, actor) => {
        const deps = { feeds: feedQueries, incidents, clock };
        const receipt = await acknowledgeNotice(deps, partner, eventId, actor);
        // Read-your-writes, as for commands: the incident view then shows the receipt.
        for (const follower of followers.values())
          await follower.waitFor(receipt.position, 5_000).catch(() => undefined);
        return receipt;
      },
      onAppended: (listener) => feedAppended.onAppended(() => listener()),
    };
    if (withServices) {
      // The definitions the distributed processes run, each here on a durable subscription of
      // its own name instead of a consumer group.
      const serviceLogger = {
        error: (fields: { err: unknown }, message: string) => logger.error(message, fields.err),
      };
      for (const service of SERVICES) {
        const worker = await service.create(context, serviceLogger);
        const handle = eventHandlerOf(service, worker);
        if (handle) await runtime.follow(service.name, (e) => handle(e));
        runtime.workers.set(service.name, worker);
      }
      for (const worker of runtime.workers.values()) await worker.start?.();
    }
    runtime.ledger.sealer.start();
    await runtime.settle();
    if (clock instanceof ExerciseClock)
      clock.follow(CLOCK_FOLLOW_INTERVAL_MS, (e) =>
        logger.error('exercise clock refresh failed', e),
      );
    runtime.ready = true;
    return runtime;
  }

  private async follow(
    subscriberId: string,
    handler: EventHandler | BatchEventHandler,
    options: { batchSize?: number } = {},
  ): Promise<Subscription> {
    const subscription = await this.store.subscribe(handler, {
      subscriberId,
      batchSize: options.batchSize,
      onError: (error, event) =>
        this.logger.error(
          `${subscriberId}: handling ${event.type} at position ${event.position} failed; retrying`,
          error,
        ),
    });
    this.subscriptions.push(subscription);
    return subscription;
  }

  /** A service of SERVICES running in this process (null without in-process services). */
  service(name: string): ServiceWorker | null {
    return this.workers.get(name) ?? null;
  }

  get queries(): IncidentQueries {
    return {
      get: (id) => this.views.get(id),
      list: (filter) => this.views.list(filter),
      events: async (id) => {
        const events = await this.store.readStream(`incident-${id}`);
        return events.length ? events : null;
      },
      audit: async (id, { asOf, viewer }) => {
        const events = await this.store.readStream(incidentStreamId(id));
        // Policies adopted since boot are picked up from the log before the fold looks them up.
        if (events.some((e) => !this.registry.has(e.metadata.policyVersion)))
          await this.registry.refresh();
        const at = asOf ?? this.clock.now();
        const audit = buildIncidentAudit(events, { asOf: at, policyOf: this.registry.of, viewer });
        if (!audit) return null;
        // Signed on demand when no checkpoint covers the last event the audit read yet (SPEC §10).
        const last = Math.max(...eventsKnownAt(events, at).map((e) => e.position));
        const checkpoint = await this.ledger.covering(last);
        return checkpoint ? { ...audit, checkpoint } : audit;
      },
    };
  }

  /** Waits until every subscription has handled everything stored so far (and what that caused). */
  async settle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const head = await this.store.headPosition();
      await Promise.all(
        this.subscriptions.map((s) => s.waitFor(head, Math.max(deadline - Date.now(), 1))),
      );
      if ((await this.store.headPosition()) === head) return;
    }
  }

  async health(): Promise<DependencyHealth> {
    const database: DependencyStatus = await this.sql.query('SELECT 1').then(
      () => ({ status: 'up' }),
      (error: unknown) => ({
        status: 'down',
        message: error instanceof Error ? error.message : String(error),
      }),
    );
    const projections: DependencyStatus = this.ready
      ? { status: 'up' }
      : { status: 'down', message: 'not caught up with the log yet, or shutting down' };
    return { database, projections };
  }

  async close(): Promise<void> {
    this.ready = false;
    for (const worker of this.workers.values()) await worker.stop?.();
    await this.ledger.sealer.stop();
    await Promise.all(this.subscriptions.map((s) => s.stop()));
    await this.context.close();
  }
}

export const createRuntime = (
  config: TrucelineConfig,
  options?: RuntimeOptions,
): Promise<EmbeddedRuntime> => EmbeddedRuntime.create(config, options);
