import { EventStore, SqlClient } from '@truceline/event-store';
import { leafHashOf } from './leaf';
import { LedgerRepository, SealedLeaf, StoredCheckpoint } from './ledger.repository';
import { formatCheckpoint } from './note/checkpoint';
import { signNote } from './note/signed-note';
import { NoteSigner } from './note/signing-key';

export interface LogSealerOptions {
  /** SPEC §10: a checkpoint at least every 10 s while events arrive. Default 5 s. */
  checkpointIntervalMs?: number;
  /** How often an idle sealer looks for new events. Default 250 ms. */
  pollIntervalMs?: number;
  /** Events read and sealed per transaction. Default 500. */
  batchSize?: number;
  now?: () => Date;
  /**
   * Runs inside the transaction that stores a new checkpoint: the partner feeds publish it
   * there, so a checkpoint is never stored without its notices, nor the other way round.
   * `position` is the position of the last event the checkpoint covers.
   */
  onCheckpoint?: (tx: SqlClient, checkpoint: StoredCheckpoint, position: number) => Promise<void>;
  /** After a new checkpoint (and what onCheckpoint wrote) committed. */
  onCheckpointCommitted?: (checkpoint: StoredCheckpoint, position: number) => void;
  onError?: (error: unknown) => void;
}

/**
 * Seals the log behind the appends (SPEC §10). It reads committed events in position order
 * through the store's ordered read (which never skips a transaction still in flight), hashes
 * them into leaves, and appends them to the tree in its own transactions: an append never waits
 * for it. Several sealers (one per API process) may run on one database: each round locks the
 * sealer's state row and checks nobody sealed the same events first.
 */
export class LogSealer {
  private readonly repository: LedgerRepository;
  private readonly checkpointIntervalMs: number;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly now: () => Date;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  private lastSignedAt = 0;
  /** One round at a time in this process: the loop and on-demand callers share it. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly sql: SqlClient,
    private readonly store: Pick<EventStore, 'readAll'>,
    private readonly signer: NoteSigner,
    private readonly options: LogSealerOptions = {},
  ) {
    this.repository = new LedgerRepository(sql);
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? 5_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.batchSize = options.batchSize ?? 500;
    this.now = options.now ?? (() => new Date());
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.lastSignedAt = Date.now();
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.queue.catch(() => undefined);
  }

  /** Seals every committed event not sealed yet; resolves to the tree size reached. */
  sealPending(): Promise<number> {
    return this.serial(async () => {
      for (;;) {
        const sealed = await this.sealBatch();
        if (sealed === null) return this.repository.treeSize();
      }
    });
  }

  /**
   * Signs a checkpoint of the whole sealed tree when it grew since the last one; returns the
   * latest checkpoint either way (null while nothing is sealed).
   */
  checkpoint(): Promise<StoredCheckpoint | null> {
    return this.serial(() => this.sign());
  }

  /**
   * On demand: the latest checkpoint when it covers `position`, else one signed now after
   * sealing up to the head. Null when `position` is not committed (nothing covers it).
   */
  async covering(position: number): Promise<StoredCheckpoint | null> {
    const latest = await this.repository.latestCheckpoint();
    if (latest && (await this.covers(latest, position))) return latest;
    await this.sealPending();
    const signed = await this.checkpoint();
    return signed && (await this.covers(signed, position)) ? signed : null;
  }

  private async covers(checkpoint: StoredCheckpoint, position: number): Promise<boolean> {
    if (position <= 0) return true;
    if (checkpoint.treeSize === 0) return false;
    const [last] = await this.repository.leaves(checkpoint.treeSize - 1, 1);
    return last !== undefined && last.position >= position;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round().finally(() => this.schedule(this.pollIntervalMs));
    }, delay);
    this.timer.unref?.();
  }

  private async round(): Promise<void> {
    try {
      await this.serial(async () => {
        // Under a steady stream of appends there is always another batch: the interval is
        // checked after each one, or no checkpoint would be signed while events arrive.
        while (!this.stopped) {
          const sealed = await this.sealBatch();
          // Signs only when the tree grew since the last checkpoint (sign() checks).
          if (Date.now() - this.lastSignedAt >= this.checkpointIntervalMs) await this.sign();
          if (sealed === null) break;
        }
      });
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** One batch of events sealed; null when there was nothing new. */
  private async sealBatch(): Promise<number | null> {
    const size = await this.repository.treeSize();
    const after = size === 0 ? 0 : (await this.repository.leaves(size - 1, 1))[0].position;
    const events = await this.store.readAll({ after, limit: this.batchSize });
    if (events.length === 0) return null;
    const leaves: SealedLeaf[] = events.map((event, i) => ({
      leafIndex: size + i,
      position: event.position,
      leafHash: leafHashOf(event),
    }));
    return this.sql.transaction(async (tx) => {
      const repository = new LedgerRepository(tx);
      const range = await repository.lockState();
      // Another sealer got there first: its leaves stand, this round's are dropped.
      if (range.size !== size) return range.size;
      for (const leaf of leaves) range.append(leaf.leafHash);
      await repository.insertLeaves(leaves);
      await repository.saveState(range);
      return range.size;
    });
  }

  private async sign(): Promise<StoredCheckpoint | null> {
    let fresh: { checkpoint: StoredCheckpoint; position: number } | undefined;
    const signed = await this.sql.transaction(async (tx) => {
      const repository = new LedgerRepository(tx);
      const range = await repository.lockState();
      const latest = await repository.latestCheckpoint();
      if (range.size === 0 || (latest && latest.treeSize >= range.size)) return latest;
      const [last] = await repository.leaves(range.size - 1, 1);
      const rootHash = range.root();
      const body = formatCheckpoint({ origin: this.signer.name, treeSize: range.size, rootHash });
      const checkpoint: StoredCheckpoint = {
        treeSize: range.size,
        rootHash,
        note: signNote(body, this.signer),
        signedAt: this.now().toISOString(),
      };
      await repository.insertCheckpoint(checkpoint);
      await this.options.onCheckpoint?.(tx, checkpoint, last.position);
      fresh = { checkpoint, position: last.position };
      return checkpoint;
    });
    this.lastSignedAt = Date.now();
    if (fresh) this.options.onCheckpointCommitted?.(fresh.checkpoint, fresh.position);
    return signed;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
