import { arrayLiteral, SqlClient } from '@truceline/event-store';
import { CompactRange } from './merkle/compact-range';
import { HASH_SIZE } from './merkle/hashes';

/** A signed checkpoint as stored and served (SPEC §10). */
export interface StoredCheckpoint {
  treeSize: number;
  rootHash: Buffer;
  /** The C2SP signed note: checkpoint body, blank line, signature line. */
  note: string;
  signedAt: string;
}

export interface SealedLeaf {
  leafIndex: number;
  position: number;
  leafHash: Buffer;
}

interface CheckpointRow {
  tree_size: string | number;
  root_hash: string;
  note: string;
  signed_at: Date | string;
}

const CHECKPOINT_COLUMNS = "tree_size, encode(root_hash, 'hex') AS root_hash, note, signed_at";

const toCheckpoint = (row: CheckpointRow): StoredCheckpoint => ({
  treeSize: Number(row.tree_size),
  rootHash: Buffer.from(row.root_hash, 'hex'),
  note: row.note,
  signedAt: new Date(row.signed_at).toISOString(),
});

/**
 * The ledger tables, the same SQL on PostgreSQL and PGlite. Hashes cross the boundary as hex
 * (encode/decode), so both drivers hand back the same types.
 */
export class LedgerRepository {
  constructor(private readonly sql: SqlClient) {}

  async treeSize(): Promise<number> {
    const { rows } = await this.sql.query<{ tree_size: string }>(
      'SELECT tree_size FROM ledger_state',
    );
    return Number(rows[0].tree_size);
  }

  /** The sealer's state as committed: the tree size and its right edge. */
  async state(): Promise<CompactRange> {
    const { rows } = await this.sql.query<{ tree_size: string; compact_range: string }>(
      "SELECT tree_size, encode(compact_range, 'hex') AS compact_range FROM ledger_state",
    );
    return CompactRange.restore(
      Number(rows[0].tree_size),
      Buffer.from(rows[0].compact_range, 'hex'),
    );
  }

  /**
   * Appends a run to a tree of `size` leaves and stores `range`, the tree it leads to, in one
   * statement — unless the tree is no longer of `size` leaves (another sealer added some
   * first): then nothing is written and the answer is false. Two sealers trying at once: the
   * second waits on the state row, finds its size moved on, and writes nothing. `leafHashes`
   * are the run's hashes as 64 hex digits each, one after the other.
   */
  async appendRun(
    size: number,
    range: CompactRange,
    positions: number[],
    leafHashes: string,
  ): Promise<boolean> {
    if (
      leafHashes.length !== 2 * HASH_SIZE * positions.length ||
      range.size !== size + positions.length
    ) {
      throw new Error(
        `a run of ${positions.length} leaves after ${size} cannot reach ${range.size}`,
      );
    }
    const { rows } = await this.sql.query(
      `WITH claimed AS (
         UPDATE ledger_state SET tree_size = $2, compact_range = decode($3, 'hex')
          WHERE tree_size = $1 RETURNING tree_size
       )
       INSERT INTO ledger_leaf_runs (first_leaf, positions, leaf_hashes)
       SELECT $1, $4::bigint[], decode($5, 'hex') FROM claimed
       RETURNING first_leaf`,
      [size, range.size, range.serialize().toString('hex'), arrayLiteral(positions), leafHashes],
    );
    return rows.length === 1;
  }

  /** Locks the sealer's row until the transaction ends: one sealer writes at a time. */
  async lockState(): Promise<CompactRange> {
    const { rows } = await this.sql.query<{ tree_size: string; compact_range: string }>(
      "SELECT tree_size, encode(compact_range, 'hex') AS compact_range FROM ledger_state FOR UPDATE",
    );
    return CompactRange.restore(
      Number(rows[0].tree_size),
      Buffer.from(rows[0].compact_range, 'hex'),
    );
  }

  async saveState(range: CompactRange): Promise<void> {
    await this.sql.query(
      "UPDATE ledger_state SET tree_size = $1, compact_range = decode($2, 'hex')",
      [range.size, range.serialize().toString('hex')],
    );
  }

  /** Leaves from `from` (an index), in index order, at most `limit`. */
  async leaves(from = 0, limit?: number): Promise<SealedLeaf[]> {
    // The run holding leaf `from` starts at or before it; runs after it follow by first_leaf.
    const { rows } = await this.sql.query<{
      first_leaf: string;
      positions: string;
      leaf_hashes: string;
    }>(
      `SELECT first_leaf, array_to_string(positions, ',', '') AS positions,
              encode(leaf_hashes, 'hex') AS leaf_hashes
         FROM ledger_leaf_runs
        WHERE first_leaf >= coalesce(
                (SELECT max(first_leaf) FROM ledger_leaf_runs WHERE first_leaf <= $1), 0)
          AND ($2::bigint IS NULL OR first_leaf < $1::bigint + $2::bigint)
        ORDER BY first_leaf`,
      [from, limit ?? null],
    );
    const end = limit === undefined ? Infinity : from + limit;
    const leaves: SealedLeaf[] = [];
    for (const row of rows) {
      const first = Number(row.first_leaf);
      const hashes = Buffer.from(row.leaf_hashes, 'hex');
      // A run is read as stored, even one altered by hand: a hash missing from a short run
      // reads as empty, and verify reports the leaf rather than failing to read it.
      row.positions.split(',').forEach((position, i) => {
        const leafIndex = first + i;
        if (leafIndex < from || leafIndex >= end) return;
        leaves.push({
          leafIndex,
          position: Number(position),
          leafHash: Buffer.from(hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE)),
        });
      });
    }
    return leaves;
  }

  /** Leaf indexes of the given positions; positions not sealed yet are absent from the map. */
  async leafIndexes(positions: number[]): Promise<Map<number, number>> {
    // Positions grow with the leaf index: the run holding p is the last to start at or before it.
    const { rows } = await this.sql.query<{ leaf_index: string; position: string }>(
      `SELECT q.p AS position, r.first_leaf + array_position(r.positions, q.p) - 1 AS leaf_index
         FROM unnest($1::bigint[]) AS q(p)
         CROSS JOIN LATERAL (
           SELECT first_leaf, positions FROM ledger_leaf_runs
            WHERE positions[1] <= q.p ORDER BY positions[1] DESC LIMIT 1
         ) r
        WHERE array_position(r.positions, q.p) IS NOT NULL`,
      [positions],
    );
    return new Map(rows.map((row) => [Number(row.position), Number(row.leaf_index)]));
  }

  async insertCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    await this.sql.query(
      `INSERT INTO ledger_checkpoints (tree_size, root_hash, note, signed_at)
       VALUES ($1, decode($2, 'hex'), $3, $4)`,
      [
        checkpoint.treeSize,
        checkpoint.rootHash.toString('hex'),
        checkpoint.note,
        checkpoint.signedAt,
      ],
    );
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | null> {
    const { rows } = await this.sql.query<CheckpointRow>(
      `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1`,
    );
    return rows[0] ? toCheckpoint(rows[0]) : null;
  }

  async checkpointOfSize(treeSize: number): Promise<StoredCheckpoint | null> {
    const { rows } = await this.sql.query<CheckpointRow>(
      `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size = $1`,
      [treeSize],
    );
    return rows[0] ? toCheckpoint(rows[0]) : null;
  }

  /** Every checkpoint, oldest (smallest) first. */
  async checkpoints(): Promise<StoredCheckpoint[]> {
    const { rows } = await this.sql.query<CheckpointRow>(
      `SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY tree_size`,
    );
    return rows.map(toCheckpoint);
  }
}
