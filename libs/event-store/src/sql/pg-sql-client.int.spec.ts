import { createTestDatabase } from '@truceline/testing';
import { openDatabase } from './open-database';
import { arrayLiteral } from './array-literal';
import { CopyRows, SqlClient } from './sql-client';

describe('PgSqlClient.copyFrom', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: SqlClient;
  type Field = string | number | boolean | null;
  const copyRows = (...list: Field[][]) =>
    list.reduce((rows, row) => rows.row(...row), new CopyRows()).bytes();

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = await openDatabase({ databaseUrl: database.url, poolSize: 2 });
    await sql.exec(
      'CREATE TABLE copied (id int PRIMARY KEY, note text, at timestamptz, ok boolean)',
    );
  });
  afterAll(async () => {
    await sql.close();
    await database.drop();
  });
  beforeEach(() => sql.exec('TRUNCATE copied'));

  const copy = (tx: SqlClient, rows: Buffer) =>
    (tx.copyFrom as NonNullable<SqlClient['copyFrom']>)(
      'COPY copied (id, note, at, ok) FROM STDIN',
      rows,
    );

  it('stores every field as given: tabs, line breaks, backslashes, nulls and long UTF-8 included', async () => {
    const notes = ['plain', 'a\tb', 'line\nbreak\r\n', 'back\\slash \\N', '{"k":"\\"q\\""}', null];
    // Past the buffer's first size, in characters of two and three bytes.
    notes.push(`${'é'.repeat(40_000)}€`);
    await sql.transaction((tx) =>
      copy(
        tx,
        copyRows(...notes.map((note, i) => [i, note, '2026-03-02T01:00:00.000Z', i % 2 === 0])),
      ),
    );
    const { rows } = await sql.query<{ id: number; note: string | null; at: Date; ok: boolean }>(
      'SELECT id, note, at, ok FROM copied ORDER BY id',
    );
    expect(rows.map((r) => r.note)).toEqual(notes);
    expect(rows.map((r) => r.ok)).toEqual([true, false, true, false, true, false, true]);
    expect(rows.every((r) => r.at.toISOString() === '2026-03-02T01:00:00.000Z')).toBe(true);
  });

  it("rejects with the server's error, rolls the transaction back, and the pool goes on", async () => {
    const failed = sql.transaction(async (tx) => {
      await tx.query("INSERT INTO copied (id, note, ok) VALUES (100, 'before', true)");
      await copy(tx, copyRows([1, 'x', null, true], [1, 'duplicate', null, true]));
    });
    await expect(failed).rejects.toMatchObject({ code: '23505' });
    await expect(
      sql.transaction((tx) => copy(tx, copyRows([2, 'bad', 'not a date', true]))),
    ).rejects.toMatchObject({ code: '22007' });
    expect((await sql.query('SELECT id FROM copied')).rows).toEqual([]);
    await sql.copyFrom?.(
      'COPY copied (id, note, at, ok) FROM STDIN',
      copyRows([3, 'after', null, false]),
    );
    expect((await sql.query('SELECT id, note FROM copied')).rows).toEqual([
      { id: 3, note: 'after' },
    ]);
  });
});

describe('PgSqlClient isoTimestamps', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: SqlClient;

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = await openDatabase({ databaseUrl: database.url, poolSize: 1 });
  });
  afterAll(async () => {
    await sql.close();
    await database.drop();
  });

  const INSTANTS = [
    '2026-12-03 11:46:07.123456+00',
    '2026-12-03 11:46:07.9+00',
    '2026-12-03 11:46:07+00',
    '0050-06-01 12:00:00.5+00',
    '1969-12-31 23:59:59.999999+00',
  ];
  const read = (tx: SqlClient, isoTimestamps: boolean) =>
    tx.query<{ at: Date | string }>(
      'SELECT unnest($1::timestamptz[]) AS at',
      [INSTANTS.map((text) => text.replace(' ', 'T').replace('+00', 'Z'))],
      { isoTimestamps },
    );

  it('gives timestamptz columns as the toISOString of the Dates read without it', async () => {
    await sql.transaction(async (tx) => {
      await tx.query("SET LOCAL TimeZone = 'UTC'");
      const dates = (await read(tx, false)).rows.map((row) => (row.at as Date).toISOString());
      const texts = (await read(tx, true)).rows.map((row) => row.at);
      expect(texts).toEqual(dates);
      expect(texts[0]).toBe('2026-12-03T11:46:07.123Z');
    });
  });

  it('gives Dates as without it when the session is not in UTC', async () => {
    await sql.transaction(async (tx) => {
      await tx.query("SET LOCAL TimeZone = 'Europe/Kyiv'");
      const { rows } = await read(tx, true);
      expect(rows.every((row) => row.at instanceof Date)).toBe(true);
      expect((rows[0].at as Date).toISOString()).toBe('2026-12-03T11:46:07.123Z');
    });
  });
});

describe(arrayLiteral.name, () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: SqlClient;

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = await openDatabase({ databaseUrl: database.url, poolSize: 2 });
  });
  afterAll(async () => {
    await sql.close();
    await database.drop();
  });

  it('gives the server the arrays pg would, whatever the text', async () => {
    const texts = [
      'plain',
      '',
      'NULL',
      ' spaced ',
      'a,b',
      '{x}',
      'q"uote',
      'back\\slash',
      'é€\n\t',
    ];
    const values = [texts, [1, -2, 9007199254740991], [true, false], ['x', null]] as const;
    const casts = ['text[]', 'bigint[]', 'boolean[]', 'text[]'];
    const select = `SELECT ${casts.map((cast, i) => `$${i + 1}::${cast} AS a${i}`).join(', ')}`;

    for (const prepare of [false, true]) {
      const ours = await sql.query(select, values.map(arrayLiteral), { prepare });
      const pgs = await sql.query(select, [...values], { prepare });

      expect(ours.rows).toEqual(pgs.rows);
    }
  });
});
