import { devSigningKeyPath } from '@truceline/config';
import { openDatabase, SqlClient } from '@truceline/event-store';
import {
  NoteSigner,
  NoteVerifier,
  parseSigningKey,
  parseVerifierKey,
  SigningKeyError,
} from '@truceline/ledger';
import { readFileSync } from 'node:fs';
import { CliEnvironment, CliError } from './cli-environment';

/**
 * The store the log lives in: DATABASE_URL, else the embedded store in TRUCELINE_DATA_DIR.
 * PGlite is one process's database: stop the instance before pointing the CLI at its data dir.
 */
export async function openLog(env: CliEnvironment): Promise<SqlClient> {
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  const dataDir = env.TRUCELINE_DATA_DIR?.trim() || './data';
  try {
    const sql = await openDatabase(databaseUrl ? { databaseUrl } : { dataDir });
    const { rows } = await sql.query<{ ok: boolean }>(
      "SELECT to_regclass('ledger_checkpoints') IS NOT NULL AND to_regclass('events') IS NOT NULL AS ok",
    );
    if (!rows[0].ok) {
      await sql.close();
      throw new CliError(`no Truceline log in ${databaseUrl ? 'DATABASE_URL' : dataDir}`);
    }
    return sql;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot open the store: ${(error as Error).message}`);
  }
}

/**
 * Where the drill's clock stands when the store is an exercise store (it keeps its exercise
 * clock, SPEC §2), else null: what the CLI signs there is drill data, on the drill's time.
 */
export async function exerciseClockOf(sql: SqlClient): Promise<Date | null> {
  const { rows } = await sql.query<{ now: Date | string | null }>(
    "SELECT CASE WHEN to_regclass('exercise_clock') IS NULL THEN NULL ELSE (SELECT now FROM exercise_clock WHERE id = 1) END AS now",
  );
  return rows[0]?.now ? new Date(rows[0].now) : null;
}

/** The key that signs checkpoints: TRUCELINE_SIGNING_KEY, else the development key (read only). */
export function signingKey(env: CliEnvironment): NoteSigner | null {
  const text = env.TRUCELINE_SIGNING_KEY?.trim() || readDevKey(env);
  if (!text) return null;
  try {
    return parseSigningKey(text);
  } catch (error) {
    if (error instanceof SigningKeyError)
      throw new CliError(`TRUCELINE_SIGNING_KEY: ${error.message}`);
    throw error;
  }
}

/**
 * The key checkpoints are checked with: `--key VKEY` (the pinned public key), else the public
 * half of the configured signing key. Never a key read from the database being checked.
 */
export function verifierKey(key: string | undefined, env: CliEnvironment): NoteVerifier {
  const text = key ?? signingKey(env)?.verifierKey;
  if (!text) {
    throw new CliError(
      'no key to check checkpoints with: pass --key VKEY (as GET /v1/log/checkpoint shows it) ' +
        'or set TRUCELINE_SIGNING_KEY',
    );
  }
  try {
    return parseVerifierKey(text);
  } catch (error) {
    if (error instanceof SigningKeyError) throw new CliError(`--key: ${error.message}`);
    throw error;
  }
}

function readDevKey(env: CliEnvironment): string | undefined {
  try {
    return readFileSync(
      devSigningKeyPath(env.TRUCELINE_DATA_DIR?.trim() || './data'),
      'utf8',
    ).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
