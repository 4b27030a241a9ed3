import { AsyncLocalStorage } from 'node:async_hooks';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { SqlClient, TransactionClient } from './sql-client';

/**
 * PGlite's server settings, plus a buffer cache of 16 MB instead of PostgreSQL's 128 MB: the
 * cache lives in the wasm heap, which never gives memory back, so its size is resident memory
 * of the process (the files stay cached by the operating system either way). Measured on a
 * database opened from disk: 310 MB resident with the default, 170 MB with this.
 */
const START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];
const START_PARAMS_KEY = createHash('sha256')
  .update(START_PARAMS.join(' '))
  .digest('hex')
  .slice(0, 8);

/**
 * Creates a data directory by copying a template that a short-lived child process initialized
 * (initdb) once per machine and PGlite version. Run in this process, initdb's wasm heap stays
 * resident for good: about 450 MB the open database never uses. The copy also spares every later
 * new directory the seconds initdb takes.
 */
async function initDataDir(dataDir: string): Promise<void> {
  const main = require.resolve('@electric-sql/pglite');
  const packageJson = join(dirname(main), '..', 'package.json');
  const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
  const template = join(tmpdir(), `truceline-pglite-${version}-${START_PARAMS_KEY}`);
  if (!existsSync(join(template, 'PG_VERSION'))) {
    // Built aside and renamed into place: processes starting at once never see half a template.
    const building = await mkdtemp(`${template}-`);
    const script = `
      const { PGlite } = require(${JSON.stringify(main)});
      const db = new PGlite(${JSON.stringify(building)}, { startParams: ${JSON.stringify(START_PARAMS)} });
      db.waitReady.then(() => db.close()).catch((error) => { console.error(error); process.exit(1); });`;
    await promisify(execFile)(process.execPath, ['-e', script]);
    await rename(building, template).catch(async () => {
      await rm(building, { recursive: true, force: true }); // another process put one in place
    });
  }
  await cp(template, dataDir, { recursive: true });
}

/**
 * SqlClient over PGlite, the embedded PostgreSQL. PGlite is a single connection: it queues every
 * statement and transaction behind the transaction in progress (its own mutex), so concurrent
 * callers are serialized rather than interleaved, and a transaction never sees statements of
 * another caller.
 *
 * The one way to hang it is to wait, inside a transaction, for a statement issued on the root
 * client: that statement queues behind the very transaction waiting for it. Such calls are
 * detected (the transaction's async context is tracked) and rejected with an explanation instead.
 */
export class PgliteSqlClient implements SqlClient {
  readonly engine = 'pglite' as const;
  private readonly insideTransaction = new AsyncLocalStorage<true>();

  private constructor(private readonly db: PGlite) {}

  /** Opens (creating if needed) the database in `dataDir`, or an in-memory one without it. */
  static async open(dataDir?: string): Promise<PgliteSqlClient> {
    if (dataDir && !existsSync(join(dataDir, 'PG_VERSION'))) await initDataDir(dataDir);
    const db = new PGlite(dataDir, { startParams: START_PARAMS });
    await db.waitReady;
    return new PgliteSqlClient(db);
  }

  async query<T = Record<string, unknown>>(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: T[] }> {
    this.assertNotInsideTransaction();
    const result = await this.db.query<T>(text, params);
    return { rows: result.rows };
  }

  async exec(script: string): Promise<void> {
    this.assertNotInsideTransaction();
    await this.db.exec(script);
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    this.assertNotInsideTransaction();
    return this.db.transaction(async (pgliteTx) => {
      const tx = new TransactionClient(this.engine, {
        query: async <R>(text: string, params?: unknown[]) => ({
          rows: (await pgliteTx.query<R>(text, params)).rows,
        }),
        exec: async (script: string) => {
          await pgliteTx.exec(script);
        },
      });
      try {
        return await this.insideTransaction.run(true, () => fn(tx));
      } finally {
        tx.end();
      }
    });
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }

  private assertNotInsideTransaction(): void {
    if (this.insideTransaction.getStore()) {
      throw new Error(
        'PGlite is a single connection: a statement on the root client issued from inside a ' +
          'running transaction would wait for that transaction forever; use the client handed ' +
          'to the transaction callback',
      );
    }
  }
}
