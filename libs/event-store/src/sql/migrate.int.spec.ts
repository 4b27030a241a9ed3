import { createTestDatabase } from '@truceline/testing';
import { migrate } from './migrate';
import { openDatabase } from './open-database';
import { SqlClient } from './sql-client';

type Engine = [string, () => Promise<{ open(): Promise<SqlClient>; cleanup(): Promise<void> }>];
const engines: Engine[] = [
  [
    'PostgreSQL',
    async () => {
      const database = await createTestDatabase();
      return { open: () => openDatabase({ databaseUrl: database.url }), cleanup: database.drop };
    },
  ],
  [
    'PGlite',
    async () => {
      const sql = await openDatabase({ inMemory: true });
      // One embedded database per process: "another process" is the same client here.
      return { open: async () => sql, cleanup: () => sql.close() };
    },
  ],
];

describe(migrate.name, () => {
  describe.each(engines)('on %s', (_, setUp) => {
    let engine: Awaited<ReturnType<Engine[1]>>;
    const clients: SqlClient[] = [];
    const client = async () => {
      const sql = await engine.open();
      clients.push(sql);
      return sql;
    };
    beforeAll(async () => (engine = await setUp()));
    afterAll(async () => {
      await Promise.all([...new Set(clients)].map((sql) => sql.close().catch(() => undefined)));
      await engine.cleanup();
    });

    // Steps that fail when run twice, so a double application cannot go unnoticed.
    const steps = (component: string) => [
      `CREATE TABLE ${component}_a (id int PRIMARY KEY); INSERT INTO ${component}_a VALUES (1);`,
      `CREATE TABLE ${component}_b (id int PRIMARY KEY); INSERT INTO ${component}_b VALUES (2);`,
    ];
    const versions = async (sql: SqlClient, component: string) =>
      (
        await sql.query<{ version: number }>(
          'SELECT version FROM schema_migrations WHERE component = $1 ORDER BY version',
          [component],
        )
      ).rows.map((row) => row.version);

    it('applies each step once when several processes start at the same time', async () => {
      const starters = await Promise.all([client(), client(), client()]);

      await Promise.all(starters.map((sql) => migrate(sql, 'race', steps('race'))));

      expect(await versions(starters[0], 'race')).toEqual([1, 2]);
      const { rows } = await starters[0].query(
        'SELECT id FROM race_a UNION ALL SELECT id FROM race_b',
      );
      expect(rows).toEqual([{ id: 1 }, { id: 2 }]);
    });

    it('applies only the steps added since the last run, per component', async () => {
      const sql = await client();
      await migrate(sql, 'grow', steps('grow').slice(0, 1));
      await migrate(sql, 'other', steps('other'));

      await migrate(sql, 'grow', steps('grow'));

      expect(await versions(sql, 'grow')).toEqual([1, 2]);
      expect(await versions(sql, 'other')).toEqual([1, 2]);
    });

    it('applies the missing steps all or none: a failing step leaves no trace', async () => {
      const sql = await client();
      const broken = [...steps('atomic'), 'SELECT no_such_function()'];

      await expect(migrate(sql, 'atomic', broken)).rejects.toThrow(/no_such_function/);

      expect(await versions(sql, 'atomic')).toEqual([]);
      const { rows } = await sql.query("SELECT to_regclass('atomic_a') AS t");
      expect(rows).toEqual([{ t: null }]);
    });

    it('refuses to run older code against a newer schema', async () => {
      const sql = await client();
      await migrate(sql, 'newer', steps('newer'));

      await expect(migrate(sql, 'newer', steps('newer').slice(0, 1))).rejects.toThrow(
        /schema of newer is at version 2, this code knows 1 steps/,
      );
    });
  });
});
