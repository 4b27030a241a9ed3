import { Counter, Gauge, Registry } from 'prom-client';
import { ConsumerLedger } from './consumer-ledger';

type GroupLabels = 'group' | 'topic';

/**
 * The consumer metrics of one process (one prom-client Registry). Several consumers of a process
 * share them, told apart by the `group` label. Parked messages show twice: as a counter of what
 * this process parked, and as a gauge of what the database holds for the group (it survives
 * restarts and counts what every instance parked).
 */
export class ConsumerMetrics {
  private static readonly byRegistry = new WeakMap<Registry, ConsumerMetrics>();
  private readonly ledgers = new Set<ConsumerLedger>();

  readonly processed: Counter<GroupLabels>;
  readonly duplicates: Counter<GroupLabels>;
  readonly retried: Counter<GroupLabels>;
  readonly parked: Counter<GroupLabels>;
  readonly lag: Gauge<GroupLabels | 'partition'>;

  private constructor(registry: Registry) {
    const registers = [registry];
    this.processed = new Counter({
      name: 'truceline_consumer_processed_total',
      help: 'Messages whose handler succeeded and whose offset was committed',
      labelNames: ['group', 'topic'],
      registers,
    });
    this.duplicates = new Counter({
      name: 'truceline_consumer_duplicates_total',
      help: 'Redelivered messages skipped because their event id was already handled',
      labelNames: ['group', 'topic'],
      registers,
    });
    this.retried = new Counter({
      name: 'truceline_consumer_retried_total',
      help: 'Handler attempts that failed and were retried after a backoff',
      labelNames: ['group', 'topic'],
      registers,
    });
    this.parked = new Counter({
      name: 'truceline_consumer_parked_total',
      help: 'Messages this process parked (retries exhausted or unreadable) and moved past',
      labelNames: ['group', 'topic'],
      registers,
    });
    this.lag = new Gauge({
      name: 'truceline_consumer_lag',
      help: 'Messages behind the high watermark per partition (high watermark - committed offset)',
      labelNames: ['group', 'topic', 'partition'],
      registers,
    });
    const ledgers = this.ledgers;
    new Gauge({
      name: 'truceline_consumer_parked_messages',
      help: 'Messages parked for the group in the database, by every instance since the start',
      labelNames: ['group'],
      registers,
      async collect() {
        this.reset();
        for (const ledger of ledgers) {
          const count = await ledger.parkedCount().catch(() => undefined);
          if (count !== undefined) this.set({ group: ledger.groupId }, count);
        }
      },
    });
  }

  static of(registry: Registry): ConsumerMetrics {
    let metrics = ConsumerMetrics.byRegistry.get(registry);
    if (!metrics) {
      metrics = new ConsumerMetrics(registry);
      ConsumerMetrics.byRegistry.set(registry, metrics);
    }
    return metrics;
  }

  track(ledger: ConsumerLedger): () => void {
    this.ledgers.add(ledger);
    return () => this.ledgers.delete(ledger);
  }
}
