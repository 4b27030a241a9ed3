import { holdConnection } from '@truceline/testing';
import { asRequest, inBackground, PgliteSqlClient, promotable } from './pglite-sql-client';
import { isUniqueViolation } from './sql-client';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('PgliteSqlClient', () => {
  let sql: PgliteSqlClient;

  beforeAll(async () => {
    sql = await PgliteSqlClient.open();
    await sql.exec(`
      CREATE TABLE items (
        id integer PRIMARY KEY, name text, tags text[], data jsonb, at timestamptz,
        done boolean, big bigint, raw bytea);
    `);
  });
  afterAll(() => sql.close());

  /** Queues one background statement, then ten requests; each notes its place in `order`. */
  const backgroundThenTenRequests = (order: string[]) => [
    inBackground(() => sql.query('SELECT 1')).then(() => order.push('background')),
    ...Array.from({ length: 10 }, (_, i) =>
      sql.query('SELECT 1').then(() => order.push(`request ${i + 1}`)),
    ),
  ];

  it('takes the parameters pg takes and reads rows as PGlite types them', async () => {
    const at = new Date('2026-03-01T12:00:00.123Z');
    await sql.query('INSERT INTO items VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
      1,
      'a "quoted", {braced} \\ name',
      ['x', 'y "z"', null, 'back\\slash'],
      { nested: [1, 'two'] },
      at,
      true,
      '9007199254740993',
      Buffer.from([0, 1, 254]),
    ]);
    await sql.query('INSERT INTO items (id, data, at, done) VALUES ($1, $2::jsonb, $3, $4)', [
      2,
      '{"already":"json"}',
      '2026-03-01T13:00:00Z',
      false,
    ]);
    const { rows } = await sql.query('SELECT * FROM items ORDER BY id');
    expect(rows[0]).toEqual({
      id: 1,
      name: 'a "quoted", {braced} \\ name',
      tags: ['x', 'y "z"', null, 'back\\slash'],
      data: { nested: [1, 'two'] },
      at,
      done: true,
      big: 9007199254740993n,
      raw: new Uint8Array([0, 1, 254]),
    });
    expect(rows[1]).toMatchObject({ id: 2, data: { already: 'json' }, done: false, name: null });
    expect(rows[1].at).toEqual(new Date('2026-03-01T13:00:00Z'));
  });

  it('reports a statement error with its SQLSTATE and changes nothing', async () => {
    const error = await sql
      .query('INSERT INTO items (id, name) VALUES ($1, $2)', [1, 'again'])
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect((error as Error).message).toMatch(/duplicate key/);
    await expect(sql.query('SELEC 1')).rejects.toMatchObject({ code: '42601' });
    const { rows } = await sql.query<{ name: string | null }>(
      'SELECT name FROM items WHERE id = 1',
    );
    expect(rows[0].name).toBe('a "quoted", {braced} \\ name');
  });

  it('commits a transaction, and rolls back one whose callback throws', async () => {
    await sql.transaction(async (tx) => {
      await tx.query('INSERT INTO items (id) VALUES ($1)', [10]);
    });
    await expect(
      sql.transaction(async (tx) => {
        await tx.query('INSERT INTO items (id) VALUES ($1)', [11]);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    // A failed statement whose error the callback swallowed: COMMIT rolls back, and says so.
    await expect(
      sql.transaction(async (tx) => {
        await tx.query('INSERT INTO items (id) VALUES ($1)', [12]);
        await tx.query('INSERT INTO items (id) VALUES ($1)', [10]).catch(() => undefined);
      }),
    ).rejects.toThrow(/rolled back/);
    const { rows } = await sql.query<{ id: number }>(
      'SELECT id FROM items WHERE id >= 10 ORDER BY id',
    );
    expect(rows.map((row) => row.id)).toEqual([10]);
  });

  it('re-plans a prepared statement when the table under it changes', async () => {
    await sql.exec('CREATE TABLE shifting (a integer)');
    await sql.query('INSERT INTO shifting VALUES ($1)', [1]);
    expect((await sql.query('SELECT * FROM shifting')).rows).toEqual([{ a: 1 }]);
    await sql.exec('ALTER TABLE shifting ADD COLUMN b text DEFAULT $$x$$');
    expect((await sql.query('SELECT * FROM shifting')).rows).toEqual([{ a: 1, b: 'x' }]);
    await sql.exec('DROP TABLE shifting; CREATE TABLE shifting (c boolean)');
    await sql.query('INSERT INTO shifting VALUES ($1)', [true]);
    expect((await sql.query('SELECT * FROM shifting')).rows).toEqual([{ c: true }]);
  });

  it('keeps working past its cache of prepared statements', async () => {
    for (let i = 0; i < 300; i++) {
      const { rows } = await sql.query<{ n: number }>(`SELECT $1::integer + ${i} AS n`, [1]);
      expect(rows[0].n).toBe(i + 1);
    }
    const { rows } = await sql.query<{ n: number }>('SELECT $1::integer + 0 AS n', [5]);
    expect(rows[0].n).toBe(5);
  });

  it('gives requests their turn before background work waiting at the same time', async () => {
    const order: string[] = [];
    const { holding, release } = await holdConnection(sql);
    const queued = [
      ...[1, 2, 3].map((i) =>
        inBackground(() => sql.query('SELECT 1')).then(() => order.push(`background ${i}`)),
      ),
      ...[1, 2].map((i) => sql.query('SELECT 1').then(() => order.push(`request ${i}`))),
    ];
    release();
    await Promise.all([holding, ...queued]);
    expect(order).toEqual([
      'request 1',
      'request 2',
      'background 1',
      'background 2',
      'background 3',
    ]);
  });

  it('still gives background work a turn among a stream of requests', async () => {
    const order: string[] = [];
    const { holding, release } = await holdConnection(sql);
    const queued = backgroundThenTenRequests(order);
    release();
    await Promise.all([holding, ...queued]);
    expect(order.indexOf('background')).toBeLessThanOrEqual(4);
  });

  it('lets requests have three times as long as a long background turn before the next', async () => {
    const order: string[] = [];
    // A page of a projection: a background transaction holding the connection for a while.
    const { holding, release } = await inBackground(() => holdConnection(sql));
    const queued = backgroundThenTenRequests(order);
    await sleep(30);
    release();
    await Promise.all([holding, ...queued]);
    // Ten requests of a fraction of a millisecond each take far less than the 90 ms they are
    // owed: counted in turns alone, the background statement went after the fourth.
    expect(order.indexOf('background')).toBe(10);
  });

  it('owes requests nothing for a background turn that nobody waited for', async () => {
    // A long background turn on an idle connection, then nothing waiting.
    const idle = await inBackground(() => holdConnection(sql));
    await sleep(30);
    idle.release();
    await idle.holding;
    const order: string[] = [];
    const { holding, release } = await holdConnection(sql);
    const queued = backgroundThenTenRequests(order);
    release();
    await Promise.all([holding, ...queued]);
    // Had the 90 ms of that turn been owed, the background statement would have gone last.
    expect(order.indexOf('background')).toBe(4);
  });

  it('still gives background work its turn among long requests after a long background turn', async () => {
    const order: string[] = [];
    const { holding, release } = await inBackground(() => holdConnection(sql));
    const queued = [
      inBackground(() => sql.query('SELECT 1')).then(() => order.push('background')),
      ...Array.from({ length: 30 }, (_, i) =>
        sql.transaction(() => sleep(10)).then(() => order.push(`request ${i + 1}`)),
      ),
    ];
    await sleep(20);
    release();
    await Promise.all([holding, ...queued]);
    // Owed three times the background turn (60 ms and some), ten-millisecond requests have had
    // it after six or seven of them (more only if the background turn ran long under load).
    expect(order.indexOf('background')).toBeGreaterThanOrEqual(4);
    expect(order.indexOf('background')).toBeLessThan(30);
  });

  it("gives work marked as a request inside background work a request's turn", async () => {
    const order: string[] = [];
    const { holding, release } = await holdConnection(sql);
    const queued = inBackground(() => [
      ...[1, 2].map((i) => sql.query('SELECT 1').then(() => order.push(`background ${i}`))),
      asRequest(() => sql.query('SELECT 1')).then(() => order.push('request')),
    ]);
    release();
    await Promise.all([holding, ...queued]);
    expect(order).toEqual(['request', 'background 1', 'background 2']);
  });

  it('gives background work a request comes to wait for the turns of a request', async () => {
    const order: string[] = [];
    const { holding, release } = await holdConnection(sql);
    const queued = [1, 2].map((i) =>
      inBackground(() => sql.query('SELECT 1')).then(() => order.push(`background ${i}`)),
    );
    // Reads others may share, begun by background work after the statements above.
    const shared = ['left behind', 'hurried', 'hurried before its statement'].map((name, i) =>
      inBackground(() =>
        promotable(async () => {
          if (i === 2) await Promise.resolve(); // its statement comes once it was hurried
          await sql.query('SELECT 1');
          order.push(name);
        }),
      ),
    );
    // Waited for by background work, such a read stays background work; by a request, it
    // goes with the requests.
    inBackground(() => shared[0].promote());
    shared[1].promote();
    shared[2].promote();
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all([holding, ...queued, ...shared.map((read) => read.result)]);
    expect(order).toEqual([
      'hurried',
      'hurried before its statement',
      'background 1',
      'background 2',
      'left behind',
    ]);
  });

  it('lets the event loop run while a backlog of statements drains', async () => {
    let done = 0;
    const backlog = Array.from({ length: 2000 }, () => sql.query('SELECT 1').then(() => done++));
    // A timer set now fires long before the backlog is through: answers and requests of the
    // process are not held up behind it.
    const doneWhenTimerFired = await new Promise<number>((resolve) =>
      setTimeout(() => resolve(done), 0),
    );
    await Promise.all(backlog);
    expect(doneWhenTimerFired).toBeLessThan(2000);
    expect(done).toBe(2000);
  });

  it('refuses a root statement from inside a transaction instead of hanging', async () => {
    await expect(sql.transaction(() => sql.query('SELECT 1'))).rejects.toThrow(/single connection/);
    expect((await sql.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});
