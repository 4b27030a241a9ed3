import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEventStoreContract } from './event-store.contract';
import { SqlEventStore } from './sql-event-store';
import { openDatabase } from './sql/open-database';

runEventStoreContract('PGlite (embedded, data dir on disk)', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'truceline-pglite-'));
  let sql = await openDatabase({ dataDir });
  let store = new SqlEventStore(sql);
  const close = async () => {
    await store.close();
    await sql.close();
  };
  return {
    store,
    readsDuringWrites: false, // one connection: readers queue behind an open transaction
    reopen: async () => {
      await close();
      sql = await openDatabase({ dataDir });
      store = new SqlEventStore(sql);
      return store;
    },
    cleanup: async () => {
      await close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
