import { migrate, SqlClient } from '@truceline/event-store';

/** Migration steps of the 'ledger' component (append-only: add steps, never edit one). */
const LEDGER_MIGRATIONS: string[] = [
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
];

export async function migrateLedger(sql: SqlClient): Promise<void> {
  await migrate(sql, 'ledger', LEDGER_MIGRATIONS);
}
