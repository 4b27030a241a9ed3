import { EventStore, SqlClient } from '@truceline/event-store';
import { leafHashHexOf } from './leaf';
import { LedgerRepository, StoredCheckpoint } from './ledger.repository';
import { CompactRange } from './merkle/compact-range';
import { formatCheckpoint } from './note/checkpoint';
import { signNote } from './note/signed-note';
import { NoteSigner } from './note/signing-key';

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

/** Events hashed between two turns of the event loop: about a third of a millisecond. */
const HASH_SLICE = 32;

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
  /**
   * The tree as this sealer last wrote or read it (size, the position of its last leaf, its
   * right edge), so a round reads no state before it writes; the write checks it still holds.
   */
  private sealed?: Sealed;

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

  private async round(): Promise<void> {
    try {
      await this.serial(async () => {
        while (!this.stopped) {
          const sealed = await this.sealBatch();
          // Under a steady stream of appends the interval is checked after each batch, or no
          // checkpoint would be signed while events arrive. sign() signs only if the tree grew.
          if (Date.now() - this.lastSignedAt >= this.checkpointIntervalMs) await this.sign();
          // A short batch: caught up. What arrives next is sealed together after the poll.
          if (sealed < this.batchSize) break;
        }
      });
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** One batch of events sealed; resolves to how many were read (0: nothing new). */
  private async sealBatch(): Promise<number> {
    const sealed = this.sealed ?? (await this.readSealed());
    // Until this batch is stored, the next round starts from what is stored.
    this.sealed = undefined;
    const events = await this.store.readAll({ after: sealed.position, limit: this.batchSize });
    if (events.length === 0) {
      this.sealed = sealed;
      return 0;
    }
    const positions = events.map((event) => event.position);
    const hashes: string[] = [];
    const range = sealed.range.copy();
    // A few hundred events hash for milliseconds: in slices, between which the appends of this
    // process get their answers, so sealing holds none of them up for longer than a slice.
    for (let from = 0; from < events.length; from += HASH_SLICE) {
      if (from > 0) await new Promise((resolve) => setImmediate(resolve));
      for (const event of events.slice(from, from + HASH_SLICE)) {
        const hash = leafHashHexOf(event);
        hashes.push(hash);
        range.appendHex(hash);
      }
    }
    // Another sealer got there first: its leaves stand, this batch is dropped, and the next
    // round starts from what is stored.
    if (await this.repository.appendRun(sealed.size, range, positions, hashes)) {
      this.sealed = { size: range.size, position: positions[positions.length - 1], range };
    }
    return events.length;
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
