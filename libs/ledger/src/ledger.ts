import { StoredEvent, ValidationError } from '@truceline/domain';
import { EventStore, SqlClient } from '@truceline/event-store';
import { LedgerRepository, StoredCheckpoint } from './ledger.repository';
import { MerkleTree } from './merkle/tree';
import { NoteSigner } from './note/signing-key';
import { LogSealer, LogSealerOptions } from './sealer';

/** GET /v1/log/checkpoint (SPEC §10); hashes are base64, as in the checkpoint itself. */
export interface CheckpointView {
  /** The C2SP signed note. */
  checkpoint: string;
  treeSize: number;
  rootHash: string;
  /** The log's public key in vkey form: what partners pin. */
  verifierKey: string;
}

/** One event with what proves it is in the tree of a checkpoint. */
export interface EventProof {
  event: StoredEvent;
  leafIndex: number;
  leafHash: string;
  /** RFC 9162 audit path, leaf to root, base64. */
  inclusionProof: string[];
}

export interface EventsProof {
  checkpoint: CheckpointView;
  proofs: EventProof[];
}

const b64 = (hash: Buffer): string => hash.toString('base64');

/**
 * The tamper-evident log as the rest of the system uses it: the sealer behind the appends,
 * the latest signed checkpoint (signed on demand when it does not cover what is asked about),
 * and inclusion and consistency proofs. Proofs are computed from the stored leaf hashes, kept
 * in a tree in memory that grows as the log does.
 */
export class Ledger {
  readonly sealer: LogSealer;
  private readonly repository: LedgerRepository;
  private readonly tree = new MerkleTree();
  /** Growing the tree is one caller at a time, or two would append the same leaves. */
  private growing: Promise<unknown> = Promise.resolve();

  constructor(
    sql: SqlClient,
    store: Pick<EventStore, 'readAll'>,
    private readonly signer: NoteSigner,
    options: LogSealerOptions = {},
  ) {
    this.repository = new LedgerRepository(sql);
    this.sealer = new LogSealer(sql, store, signer, options);
  }

  get verifierKey(): string {
    return this.signer.verifierKey;
  }

  get origin(): string {
    return this.signer.name;
  }

  view(checkpoint: StoredCheckpoint): CheckpointView {
    return {
      checkpoint: checkpoint.note,
      treeSize: checkpoint.treeSize,
      rootHash: b64(checkpoint.rootHash),
      verifierKey: this.verifierKey,
    };
  }

  /** The latest signed checkpoint covering every event committed so far (signed on demand). */
  async latest(): Promise<CheckpointView | null> {
    await this.sealer.sealPending();
    const checkpoint = await this.sealer.checkpoint();
    return checkpoint && this.view(checkpoint);
  }

  /**
   * The latest signed checkpoint covering every event up to `position` (e.g. the highest
   * position of the events an audit lists); null when that position is not committed.
   */
  async covering(position: number): Promise<CheckpointView | null> {
    const checkpoint = await this.sealer.covering(position);
    return checkpoint && this.view(checkpoint);
  }

  /** RFC 9162 consistency proof between two tree sizes the log has signed or sealed. */
  async consistency(from: number, to: number): Promise<string[]> {
    const sealed = await this.repository.treeSize();
    const fields: { field: string; message: string }[] = [];
    if (from > to) fields.push({ field: 'from', message: 'from must not be greater than to' });
    if (to > sealed) {
      fields.push({ field: 'to', message: `to must not be greater than the tree size ${sealed}` });
    }
    if (fields.length > 0)
      throw new ValidationError('no consistency proof for these sizes', fields);
    const tree = await this.treeOf(to);
    return tree.consistencyProof(from, to).map(b64);
  }

  /**
   * Inclusion proofs of `events` against a signed checkpoint: the one of size `treeSize`, or
   * by default the latest covering them all (signed on demand). Events beyond the checkpoint
   * are left out. Throws ValidationError for a tree size no checkpoint has.
   */
  async prove(events: StoredEvent[], treeSize?: number): Promise<EventsProof | null> {
    const highest = Math.max(0, ...events.map((e) => e.position));
    const checkpoint =
      treeSize === undefined
        ? await this.sealer.covering(highest)
        : await this.repository.checkpointOfSize(treeSize);
    if (!checkpoint) {
      if (treeSize === undefined) return null;
      throw new ValidationError('no signed checkpoint has this tree size', [
        { field: 'treeSize', message: `no signed checkpoint has tree size ${treeSize}` },
      ]);
    }
    const indexes = await this.repository.leafIndexes(events.map((e) => e.position));
    const tree = await this.treeOf(checkpoint.treeSize);
    const proofs: EventProof[] = [];
    for (const event of events) {
      const leafIndex = indexes.get(event.position);
      if (leafIndex === undefined || leafIndex >= checkpoint.treeSize) continue;
      proofs.push({
        event,
        leafIndex,
        leafHash: b64(tree.leaf(leafIndex)),
        inclusionProof: tree.inclusionProof(leafIndex, checkpoint.treeSize).map(b64),
      });
    }
    return { checkpoint: this.view(checkpoint), proofs };
  }

  /** The in-memory tree, grown from the stored leaves to at least `size`. */
  private treeOf(size: number): Promise<MerkleTree> {
    const grown = this.growing.then(async () => {
      while (this.tree.size < size) {
        const leaves = await this.repository.leaves(this.tree.size, 10_000);
        if (leaves.length === 0) throw new Error(`the ledger has fewer than ${size} leaves`);
        this.tree.append(leaves.map((leaf) => leaf.leafHash));
      }
      return this.tree;
    });
    this.growing = grown.catch(() => undefined);
    return grown;
  }
}
