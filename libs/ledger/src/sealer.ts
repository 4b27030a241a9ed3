import { EventStore, SqlClient } from '@truceline/event-store';
import { LedgerRepository, StoredCheckpoint } from './ledger.repository';
import { CompactRange } from './merkle/compact-range';
import { formatCheckpoint } from './note/checkpoint';
import { signNote } from './note/signed-note';
import { NoteSigner } from './note/signing-key';
import { HashedRun, ReadAndHash } from './sealing-work';
import { WorkerSealing } from './worker-sealing';

export interface LogSealerOptions {
  /** SPEC §10: a checkpoint at least every 10 s while events arrive. Default 5 s. */
  checkpointIntervalMs?: number;
  /**
   * How long the sealer waits once it has caught up before it looks for new events again.
   * Default 250 ms: under load it then seals what arrived meanwhile in one transaction rather
   * than a few events at a time, so it costs the database a handful of statements per poll,
   * not per append.
   */
  pollIntervalMs?: number;
  /** Events read and sealed per transaction; a full batch is followed at once by the next. Default 500. */
  batchSize?: number;
  /**
   * PostgreSQL: the running sealer reads and hashes on a thread of its own at the lowest CPU
   * priority, through a connection of its own to this database (see WorkerSealing), instead of
   * on the thread of the appends: started and ended with the sealer, or one the caller started
   * and closes itself (kept across stop and start). On-demand sealing (sealPending, covering)
   * stays on this thread.
   */
  sealingThread?: { databaseUrl: string } | WorkerSealing;
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

/** After the sealing thread failed to start or died, how long the sealer seals here instead. */
const THREAD_RETRY_MS = 30_000;

interface Sealed {
  size: number;
  position: number;
  range: CompactRange;
}

/**
 * Seals the log behind the appends (SPEC §10). It reads committed events in position order
 * through the store's ordered read (which never skips a transaction still in flight), hashes
 * them into leaves, and appends them to the tree in statements of its own: an append never
 * waits for it. Several sealers (one per API process) may run on one database: a batch is
 * stored by one statement that writes nothing when the tree is no longer the size the batch
 * grew from (another sealer sealed those events first).
 *
 * Running (start), it seals a batch after each poll and signs a checkpoint of what is sealed on
 * a timer of its own. With a sealing thread the reading and hashing go to that thread at the
 * lowest priority: under a load that takes every core the sealer falls behind the appends
 * instead of slowing them, the checkpoints go on covering what is sealed, and it catches up
 * once the load drops. Sealing on demand (sealPending, covering) seals on this thread, at once.
 */
export class LogSealer {
  private readonly repository: LedgerRepository;
  private readonly checkpointIntervalMs: number;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly now: () => Date;
  private readonly here: ReadAndHash;
  private timer?: NodeJS.Timeout;
  private signTimer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  /** The sealing thread while running (when configured), and when it last failed. */
  private thread?: Promise<WorkerSealing | undefined>;
  private threadFailedAt = -Infinity;
  /** One write at a time in this process: rounds, on-demand callers and signing share it. */
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * The tree as this sealer last wrote or read it (size, the position of its last leaf, its
   * right edge), so a round reads no state before it writes; the write checks it still holds.
   */
  private sealed?: Sealed;

  constructor(
    private readonly sql: SqlClient,
    store: Pick<EventStore, 'readAll'>,
    private readonly signer: NoteSigner,
    private readonly options: LogSealerOptions = {},
  ) {
    this.repository = new LedgerRepository(sql);
    this.here = new ReadAndHash(store);
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? 5_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.batchSize = options.batchSize ?? 500;
    this.now = options.now ?? (() => new Date());
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.thread = this.startThread();
    this.schedule(0);
    this.scheduleSigning();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.signTimer);
    await this.running;
    await this.queue.catch(() => undefined);
    const thread = await this.thread;
    this.thread = undefined;
    if (!(this.options.sealingThread instanceof WorkerSealing)) await thread?.close();
  }

  /**
   * The sealing thread as the kernel sees it, once started (null without one): its OS thread
   * id, to read its CPU time, and its nice value.
   */
  async sealingThread(): Promise<{ threadId: number | null; nice: number | null } | null> {
    const thread = await this.thread;
    return thread ? { threadId: thread.threadId, nice: thread.nice } : null;
  }

  /** Seals every committed event not sealed yet; resolves to the tree size reached. */
  sealPending(): Promise<number> {
    return this.serial(async () => {
      while ((await this.sealBatch()) > 0);
      return this.repository.treeSize();
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

  /**
   * Checkpoints on a timer of their own, not after a batch: while a lagging sealing thread
   * takes seconds per batch, checkpoints still come every interval and cover what is sealed.
   */
  private scheduleSigning(): void {
    if (this.stopped) return;
    this.signTimer = setTimeout(() => {
      this.checkpoint()
        .catch((error: unknown) => this.options.onError?.(error))
        .finally(() => this.scheduleSigning());
    }, this.checkpointIntervalMs);
    this.signTimer.unref?.();
  }

  private async round(): Promise<void> {
    try {
      while (!this.stopped) {
        const work = (await this.workOfRound()) ?? this.here;
        const from = await this.serial(() => this.current());
        // Read and hashed outside the queue: on-demand sealing need not wait for a lagging
        // thread. Whichever stores first wins; the other's run is dropped (see store).
        const run = await work.next(from.position, from.range, this.batchSize);
        if (!run) break;
        await this.serial(() => this.store(from, run));
        // A short batch: caught up. What arrives next is sealed together after the poll.
        if (run.positions.length < this.batchSize) break;
      }
    } catch (error) {
      if (!this.stopped) this.options.onError?.(error);
    }
  }

  /** The sealing thread for this round: restarted when it died, unless it failed lately. */
  private async workOfRound(): Promise<WorkerSealing | undefined> {
    const thread = await this.thread;
    const given = this.options.sealingThread instanceof WorkerSealing;
    if (thread?.alive || !this.options.sealingThread || given || this.stopped) {
      return thread?.alive ? thread : undefined;
    }
    if (Date.now() - this.threadFailedAt < THREAD_RETRY_MS) return undefined;
    this.thread = this.startThread();
    return this.thread;
  }

  private async startThread(): Promise<WorkerSealing | undefined> {
    const option = this.options.sealingThread;
    if (option instanceof WorkerSealing) return option;
    const url = option?.databaseUrl;
    if (!url) return undefined;
    try {
      return await WorkerSealing.start(url);
    } catch (error) {
      // Sealing goes on here meanwhile: slower appends beat an unsealed log.
      this.threadFailedAt = Date.now();
      this.options.onError?.(error);
      return undefined;
    }
  }

  /** Where the tree stands, as this sealer last stored or read it. */
  private async current(): Promise<Sealed> {
    this.sealed ??= await this.readSealed();
    return this.sealed;
  }

  /** One batch of events sealed on this thread; resolves to how many were read (0: nothing new). */
  private async sealBatch(): Promise<number> {
    const from = await this.current();
    const run = await this.here.next(from.position, from.range, this.batchSize);
    if (!run) return 0;
    await this.store(from, run);
    return run.positions.length;
  }

  /**
   * Stores a run hashed onto the tree `from`. When another sealer stored leaves first (here or
   * in another process), nothing is written and the next batch starts from what is stored.
   */
  private async store(from: Sealed, run: HashedRun): Promise<void> {
    this.sealed = undefined;
    if (await this.repository.appendRun(from.size, run.range, run.positions, run.hashes)) {
      this.sealed = {
        size: run.range.size,
        position: run.positions[run.positions.length - 1],
        range: run.range,
      };
    }
  }

  private async readSealed(): Promise<Sealed> {
    const range = await this.repository.state();
    const size = range.size;
    const position = size === 0 ? 0 : (await this.repository.leaves(size - 1, 1))[0].position;
    return { size, position, range };
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
    if (fresh) this.options.onCheckpointCommitted?.(fresh.checkpoint, fresh.position);
    return signed;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
