import { SqlClient } from '@truceline/event-store';
import { CompactRange } from './merkle/compact-range';

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

  async insertLeaves(leaves: SealedLeaf[]): Promise<void> {
    if (leaves.length === 0) return;
    await this.sql.query(
      `INSERT INTO ledger_leaves (leaf_index, position, leaf_hash)
       SELECT i, p, decode(h, 'hex')
         FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS t(i, p, h)`,
      [
        leaves.map((l) => l.leafIndex),
        leaves.map((l) => l.position),
        leaves.map((l) => l.leafHash.toString('hex')),
      ],
    );
  }

  /** Leaves from `from` (an index), in index order, at most `limit`. */
  async leaves(from = 0, limit?: number): Promise<SealedLeaf[]> {
    const { rows } = await this.sql.query<{
      leaf_index: string;
      position: string;
      leaf_hash: string;
    }>(
      `SELECT leaf_index, position, encode(leaf_hash, 'hex') AS leaf_hash FROM ledger_leaves
        WHERE leaf_index >= $1 ORDER BY leaf_index LIMIT $2::bigint`,
      [from, limit ?? null],
    );
    return rows.map((row) => ({
      leafIndex: Number(row.leaf_index),
      position: Number(row.position),
      leafHash: Buffer.from(row.leaf_hash, 'hex'),
    }));
  }

  /** Leaf indexes of the given positions; positions not sealed yet are absent from the map. */
  async leafIndexes(positions: number[]): Promise<Map<number, number>> {
    const { rows } = await this.sql.query<{ leaf_index: string; position: string }>(
      'SELECT leaf_index, position FROM ledger_leaves WHERE position = ANY($1::bigint[])',
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
