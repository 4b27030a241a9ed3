/**
 * A table declared once, in its current shape: the migration step that creates it and the
 * names a reset empties are derived from the declaration, not written out again by hand.
 * A column added later is declared here too, and gets its own `ALTER TABLE … ADD COLUMN IF NOT
 * EXISTS` step for the stores created before it (a released step is never edited).
 */
export interface TableDefinition {
  name: string;
  /** Each column, in order: its name and then its SQL type and column constraints. */
  columns: Readonly<Record<string, string>>;
  /** Table constraints after the columns, e.g. `PRIMARY KEY (partner, seq)`. */
  constraints?: readonly string[];
}

/** The `CREATE TABLE IF NOT EXISTS` statement of a declared table. */
export function createTable(table: TableDefinition): string {
  const lines = [
    ...Object.entries(table.columns).map(([column, type]) => `${column} ${type}`),
    ...(table.constraints ?? []),
  ];
  return `CREATE TABLE IF NOT EXISTS ${table.name} (\n  ${lines.join(',\n  ')}\n)`;
}
