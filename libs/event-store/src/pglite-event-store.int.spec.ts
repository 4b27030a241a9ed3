import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdConnection } from '@truceline/testing';
import { newEvent } from './contract/contract-kit';
import { runEventStoreContract } from './event-store.contract';
import { SqlEventStore } from './sql-event-store';
import { openDatabase } from './sql/open-database';
import { inBackground, PgliteSqlClient } from './sql/pglite-sql-client';

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

describe('SqlEventStore on PGlite: appends of requests and of background work', () => {
  let sql: PgliteSqlClient;
  let store: SqlEventStore;

  beforeAll(async () => {
    sql = await PgliteSqlClient.open();
    store = new SqlEventStore(sql);
    await store.init();
  });

  afterAll(async () => {
    await store.close();
    await sql.close();
  });

  it("sends a request's append, queued behind a background append, before background work", async () => {
    const order: string[] = [];
    const { holding, release } = await holdConnection(sql);
    // A service's reaction goes first and starts the chain of groups; a request's append then
    // waits for it in the store's queue while background statements queue for the connection.
    const reaction = inBackground(() =>
      store.append(`s-${randomUUID()}`, [newEvent()], { expectedRevision: 'no-stream' }),
    ).then(() => order.push('reaction'));
    const command = store
      .append(`s-${randomUUID()}`, [newEvent()], { expectedRevision: 'no-stream' })
      .then(() => order.push('command'));
    const background = [1, 2, 3].map((i) =>
      inBackground(() => sql.query('SELECT 1')).then(() => order.push(`background ${i}`)),
    );
    release();
    await Promise.all([holding, reaction, command, ...background]);
    expect(order.indexOf('command')).toBeLessThan(order.indexOf('background 3'));
  });
});
