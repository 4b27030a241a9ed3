import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { openDatabase, SqlEventStore } from '@truceline/event-store';
import { PolicyRegistry } from './policy.registry';
import { PROJECTIONS } from './projections';
import { inSchema, Page, PageReader, READ_AHEAD } from './rebuild';
import type { PartData, PartMessage } from './rebuild.parts';

/** Connections of a part: the reads ahead, the write in flight, the loader's own look-ups. */
const PART_POOL = 3;

/**
 * One part of a split load (see loadInParts), in its own thread: reads the events of its
 * streams and of the projection's `everyPart` streams, in log order, from its own connections,
 * folds them with the projection's loader (the same fold as everywhere), writes its rows, and
 * reports how many of the events it read are its own share (an `everyPart` event counts in
 * part 0 only).
 */
export async function loadPart(
  data: PartData,
  post: (message: PartMessage) => void,
): Promise<void> {
  const definition = PROJECTIONS.find((candidate) => candidate.name === data.projection);
  if (!definition?.loader || !definition.splitByStream)
    throw new Error(`projection ${data.projection} is not loaded in parts`);
  const everyPart = new Set(definition.splitByStream.everyPart);
  const sql = await openDatabase({ databaseUrl: data.databaseUrl, poolSize: PART_POOL });
  try {
    const store = new SqlEventStore(sql);
    const policies = new PolicyRegistry(store);
    policies.remember(data.policies);
    const loader = definition.loader(inSchema(sql, [data.schema, data.live]), policies, {
      empty: data.empty,
    });
    const read = async (after: number): Promise<Page | null> => {
      if (after >= data.through) return null;
      const through = Math.min(after + data.span, data.through);
      const events = await store.readPartForReplay({
        after,
        through,
        index: data.index,
        count: data.count,
        everyPart: [...everyPart],
      });
      return { events, through };
    };
    const pages = new PageReader(read, 0, READ_AHEAD);
    for (let page = await pages.next(); page !== null; page = await pages.next()) {
      if (page.events.length === 0) continue;
      await loader.load(page.events);
      let count = 0;
      for (const event of page.events)
        if (data.index === 0 || !everyPart.has(event.streamId)) count++;
      post({ kind: 'events', count });
    }
    await loader.finish();
  } finally {
    await sql.close();
  }
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  loadPart(workerData as PartData, (message) => port.postMessage(message)).then(
    () => port.postMessage({ kind: 'done' } satisfies PartMessage),
    (error: unknown) => {
      const failed = error as { message?: unknown; stack?: unknown; code?: unknown };
      port.postMessage({
        kind: 'failed',
        message: String(failed?.message ?? error),
        stack: typeof failed?.stack === 'string' ? failed.stack : undefined,
        code: typeof failed?.code === 'string' ? failed.code : undefined,
      } satisfies PartMessage);
    },
  );
}
