import { migrate, SqlClient } from '@truceline/event-store';

/** Migration steps of the 'ledger' component (append-only: add steps, never edit one). */
export const LEDGER_MIGRATIONS: readonly string[] = [
  `
  -- One row per sealed event, in position order: leaf i of the tree is the i-th event by
  -- position. The position is kept beside the index so a missing or extra event is named.
  CREATE TABLE ledger_leaves (
    leaf_index bigint PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    leaf_hash bytea NOT NULL
  );

  -- The sealer's own progress: how many leaves, and the right edge of the tree (the roots of
  -- its perfect subtrees), so a restart resumes without reading every leaf again.
  CREATE TABLE ledger_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    tree_size bigint NOT NULL,
    compact_range bytea NOT NULL
  );
  INSERT INTO ledger_state (singleton, tree_size, compact_range) VALUES (true, 0, ''::bytea);

  -- Every signed checkpoint is kept (SPEC §10), one per tree size.
  CREATE TABLE ledger_checkpoints (
    tree_size bigint PRIMARY KEY,
    root_hash bytea NOT NULL,
    note text NOT NULL,
    signed_at timestamptz NOT NULL
  );

  -- Leaves and checkpoints are written once. The trigger stops mistakes and ordinary roles;
  -- it does not stop a superuser, which is why \`truceline verify\` exists.
  CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
  END $$;
  CREATE TRIGGER ledger_leaves_append_only BEFORE UPDATE OR DELETE ON ledger_leaves
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
  CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
  `,
  `
  -- Leaves are kept a run at a time: the leaves one sealing round added (one event or a few
  -- hundred), their positions and their 32-byte hashes in leaf order in one row. A row and an
  -- index entry per event cost the database as much as the rest of sealing together.
  -- Leaf first_leaf + i is the event at positions[i + 1]; positions grow with the leaf index,
  -- so the run holding a position is the last one starting at or before it.
  CREATE TABLE ledger_leaf_runs (
    first_leaf bigint PRIMARY KEY,
    positions bigint[] NOT NULL,
    leaf_hashes bytea NOT NULL,
    CHECK (cardinality(positions) > 0 AND length(leaf_hashes) = 32 * cardinality(positions))
  );
  CREATE UNIQUE INDEX ledger_leaf_runs_first_position ON ledger_leaf_runs ((positions[1]));
  -- Hashes do not compress: a long run goes out of line without an attempt.
  ALTER TABLE ledger_leaf_runs ALTER COLUMN leaf_hashes SET STORAGE EXTERNAL;

  -- The leaves sealed so far become runs of up to 256. No sealer may add a leaf meanwhile.
  LOCK TABLE ledger_state, ledger_leaves IN ACCESS EXCLUSIVE MODE;
  INSERT INTO ledger_leaf_runs (first_leaf, positions, leaf_hashes)
    SELECT min(leaf_index), array_agg(position ORDER BY leaf_index),
           string_agg(leaf_hash, ''::bytea ORDER BY leaf_index)
      FROM ledger_leaves GROUP BY leaf_index / 256;
  DROP TABLE ledger_leaves;

  CREATE TRIGGER ledger_leaf_runs_append_only BEFORE UPDATE OR DELETE ON ledger_leaf_runs
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
  `,
];

export async function migrateLedger(sql: SqlClient): Promise<void> {
  await migrate(sql, 'ledger', [...LEDGER_MIGRATIONS]);
}
