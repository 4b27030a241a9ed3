import { randomUUID } from 'node:crypto';
import { openDatabase, SqlEventStore } from '@truceline/event-store';
import { generateSigningKey, Ledger, migrateLedger, parseSigningKey } from '@truceline/ledger';
import { BenchSettings, eventsOf } from './append.bench';
import { drive, LoadResult, median } from './load';

export interface SealingFigures {
  sealingOff: LoadResult;
  sealingOn: LoadResult;
  /** Events sealed while the sealing runs took place, and the checkpoints signed. */
  sealed: number;
  checkpoints: number;
}

/**
 * Appends with the sealer running behind them against the same appends without it (SPEC §10:
 * sealing never slows appends), interleaved run by run on one database. The sealer runs as in
 * the API: polling every 250 ms, a checkpoint at least every 5 s.
 */
export async function appendWithSealing(
  url: string,
  writers: number,
  settings: BenchSettings,
): Promise<SealingFigures> {
  const sql = await openDatabase({ databaseUrl: url, poolSize: writers + 2 });
  const store = new SqlEventStore(sql);
  await store.init();
  await migrateLedger(sql);
  const ledger = new Ledger(sql, store, parseSigningKey(generateSigningKey('truceline/bench')));
  const append = async (w: number, i: number) => {
    await store.append(`bench-${w}-${randomUUID()}`, eventsOf(1, i), {
      expectedRevision: 'no-stream',
    });
    return 1;
  };
  try {
    await drive(writers, 300, append);
    const off: LoadResult[] = [];
    const on: LoadResult[] = [];
    for (let run = 0; run < settings.runs; run++) {
      off.push(await drive(writers, settings.durationMs, append));
      ledger.sealer.start();
      on.push(await drive(writers, settings.durationMs, append));
      await ledger.sealer.stop();
    }
    const latest = await ledger.latest();
    const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM ledger_checkpoints');
    return {
      sealingOff: median(off),
      sealingOn: median(on),
      sealed: latest?.treeSize ?? 0,
      checkpoints: Number(rows[0].n),
    };
  } finally {
    await ledger.sealer.stop();
    await store.close();
    await sql.close();
  }
}
