import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import { createTestDatabase, TestDatabase } from '@truceline/testing';
import { LeaseLostError, RelayLease } from './relay-lease';

type Engine = 'PGlite' | 'PostgreSQL';

jest.setTimeout(30_000);

describe.each<Engine>(['PGlite', 'PostgreSQL'])(`${RelayLease.name} on %s`, (engine) => {
  let database: TestDatabase | undefined;
  const clients: SqlClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await database?.drop();
    database = undefined;
  });

  /** A client of the test's database: another process's connection, for PostgreSQL. */
  async function aClient(): Promise<SqlClient> {
    if (engine === 'PGlite' && clients.length > 0) return clients[0];
    let client: SqlClient;
    if (engine === 'PGlite') {
      client = await openDatabase({ inMemory: true });
    } else {
      database ??= await createTestDatabase();
      client = await openDatabase({ databaseUrl: database.url, poolSize: 4 });
    }
    clients.push(client);
    await RelayLease.migrate(client);
    return client;
  }

  const aLease = async (owner: string, ttlMs = 60_000) =>
    new RelayLease(await aClient(), 'relay:spec', owner, ttlMs);

  it('is held by one owner at a time, renewed by it, refused to the others', async () => {
    const sut = await aLease('a');
    const other = await aLease('b');

    expect(await sut.acquire()).toBe(true);
    expect(await other.acquire()).toBe(false);
    expect(await sut.acquire()).toBe(true);

    expect(sut.held()).toBe(true);
    expect(other.held()).toBe(false);
    expect(sut.currentEpoch()).toBe(1);
  });

  it('goes to a standby once the holder stops renewing for the TTL', async () => {
    const sut = await aLease('a', 300);
    const standby = await aLease('b', 300);
    await sut.acquire();

    expect(await standby.acquire()).toBe(false);
    await sleep(400);

    expect(sut.held()).toBe(false); // the holder's own deadline ran out first
    expect(await standby.acquire()).toBe(true);
    expect(standby.currentEpoch()).toBe(2);
    expect(await sut.acquire()).toBe(false);
  });

  it('is free at once after a release', async () => {
    const sut = await aLease('a');
    const standby = await aLease('b');
    await sut.acquire();

    await sut.release();

    expect(sut.held()).toBe(false);
    expect(await standby.acquire()).toBe(true);
  });

  it('runs work only while still held, and refuses it after a takeover', async () => {
    const sut = await aLease('a', 300);
    const standby = await aLease('b', 300);
    await sut.acquire();
    expect(await sut.whileHeld(async (tx) => (await tx.query('SELECT 1 AS one')).rows)).toEqual([
      { one: 1 },
    ]);
    await sleep(400);
    await standby.acquire();

    const work = jest.fn(async () => undefined);
    await expect(sut.whileHeld(work)).rejects.toBeInstanceOf(LeaseLostError);
    expect(work).not.toHaveBeenCalled();
    expect(sut.held()).toBe(false);
  });

  it('stores checkpoints only while held, none after a takeover', async () => {
    const sut = await aLease('a', 300);
    const standby = await aLease('b', 300);
    const store = new SqlEventStore(await aClient());
    await store.init();
    await sut.acquire();

    await sut.storeCheckpoints(
      new Map([
        ['relay:x', 7],
        ['relay:y', 9],
      ]),
    );
    await sut.storeCheckpoints(new Map([['relay:x', 8]]));
    expect(await store.readCheckpoint('relay:x')).toBe(8);
    expect(await store.readCheckpoint('relay:y')).toBe(9);

    await sleep(400);
    await standby.acquire();
    await expect(sut.storeCheckpoints(new Map([['relay:x', 99]]))).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    expect(sut.held()).toBe(false);
    expect(await store.readCheckpoint('relay:x')).toBe(8);
  });

  if (engine === 'PostgreSQL') {
    it('makes a takeover wait for the holder’s work in flight', async () => {
      const sut = await aLease('a', 300);
      const standby = await aLease('b', 300);
      await sut.acquire();
      const order: string[] = [];

      const work = sut.whileHeld(async () => {
        await sleep(600); // the lease expires meanwhile
        order.push('holder committed');
      });
      await sleep(400);
      const takeover = standby.acquire().then((held) => order.push(`takeover ${held}`));
      await Promise.all([work, takeover]);

      expect(order).toEqual(['holder committed', 'takeover true']);
    });
  }
});
