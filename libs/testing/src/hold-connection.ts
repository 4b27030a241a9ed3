import { SqlClient } from '@truceline/event-store';

/**
 * A transaction that holds its connection (PGlite's only one) until `release` is called, once
 * it has begun: what a long page of a projection does to everything queued behind it.
 */
export async function holdConnection(
  sql: SqlClient,
): Promise<{ holding: Promise<void>; release: () => void }> {
  let release!: () => void;
  let begun!: () => void;
  const started = new Promise<void>((resolve) => (begun = resolve));
  const holding = sql.transaction(
    () =>
      new Promise<void>((resolve) => {
        release = resolve;
        begun();
      }),
  );
  await started;
  return { holding, release: () => release() };
}
