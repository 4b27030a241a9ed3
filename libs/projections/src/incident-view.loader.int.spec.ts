import { SqlClient } from '@truceline/event-store';
import { insertGeneratedHistory, openPolicyStore } from '@truceline/testing';
import { IncidentViewLoader, INCIDENTS } from './incident.projection';
import { migrateProjection } from './projection';
import { inSchema } from './rebuild';

const rowsOf = async (sql: SqlClient, schema: string) =>
  (
    await sql.query<{ row: string }>(
      `SELECT to_jsonb(t)::text AS row FROM "${schema}".incident_view t ORDER BY 1`,
    )
  ).rows.map((r) => r.row);

describe(IncidentViewLoader.name, () => {
  it('loads the rows applyBatch leaves, letting rows go and reading them back on the way', async () => {
    const { sql, store, policies, close } = await openPolicyStore();
    try {
      // Thirty incidents interleaved from first event to last: every incident is let go (five
      // held at most) and read back several times, and most rows are written more than once.
      await insertGeneratedHistory(sql, 30, { interleave: 30 });
      const events = await store.readAll();

      await migrateProjection(sql, INCIDENTS);
      const live = INCIDENTS.create(sql, policies);
      for (let i = 0; i < events.length; i += 50) await live.applyBatch(events.slice(i, i + 50));

      await sql.exec('CREATE SCHEMA loaded');
      await inSchema(sql, 'loaded').transaction(async (tx) => {
        for (const step of INCIDENTS.migrations) await tx.exec(step);
      });
      const loader = new IncidentViewLoader(inSchema(sql, 'loaded'), policies, {
        resident: 5,
        writeRows: 3,
      });
      for (let after = 0; ;) {
        const page = await store.readAllForReplay({ after, limit: 7 });
        if (page.length === 0) break;
        await loader.load(page);
        after = page[page.length - 1].position;
      }
      await loader.finish();

      const loaded = await rowsOf(sql, 'loaded');
      expect(loaded).toHaveLength(30);
      expect(loaded).toEqual(await rowsOf(sql, 'public'));
    } finally {
      await close();
    }
  }, 60_000);
});
