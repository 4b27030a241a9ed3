import { createTestDatabase } from '@truceline/testing';
import { runEventStoreContract } from './event-store.contract';
import { SqlEventStore } from './sql-event-store';
import { openDatabase } from './sql/open-database';

runEventStoreContract('PostgreSQL (pg pool, real server)', async () => {
  const database = await createTestDatabase();
  // Several connections, so writers and readers really run side by side.
  const open = () => openDatabase({ databaseUrl: database.url, poolSize: 8 });
  let sql = await open();
  let store = new SqlEventStore(sql);
  const close = async () => {
    await store.close();
    await sql.close();
  };
  return {
    store,
    readsDuringWrites: true,
    reopen: async () => {
      await close();
      sql = await open();
      store = new SqlEventStore(sql);
      return store;
    },
    cleanup: async () => {
      await close();
      await database.drop();
    },
  };
});
