import { StoredEvent } from '@truceline/domain';
import { holdConnection } from '@truceline/testing';
import { CheckpointWriter } from './checkpoint-writer';
import { newEvents, streamName } from './contract/contract-kit';
import { ReadAllOptions } from './event-store.port';
import { SharedLogReader } from './shared-log-reader';
import { SqlEventStore } from './sql-event-store';
import { inBackground } from './sql/pglite-sql-client';
import { openDatabase } from './sql/open-database';
import { SqlClient } from './sql/sql-client';

/** The real store, with the reads that reach it counted. */
function countedReads(store: SqlEventStore) {
  const reads: ReadAllOptions[] = [];
  return {
    reads,
    readAll: (options?: ReadAllOptions) => {
      reads.push(options ?? {});
      return store.readAll(options);
    },
  };
}

/** Every event after `after`, paging through `read` with pages of `limit`. */
async function pageThrough(
  read: (options: ReadAllOptions) => Promise<StoredEvent[]>,
  after: number,
  limit: number,
): Promise<number[]> {
  const positions: number[] = [];
  for (;;) {
    const page = await read({ after, limit });
    if (page.length === 0) return positions;
    expect(page.length).toBeLessThanOrEqual(limit);
    positions.push(...page.map((e) => e.position));
    after = page[page.length - 1].position;
  }
}

/**
 * `steps` appends of `size` events to a new stream; the positions they took, in order. Returns
 * once they are all settled: a paging read answers only what lies below the horizon of
 * transactions in flight, which on PostgreSQL is the whole server's, so another suite's open
 * transaction would otherwise cut the specs' reads short and add reads they count.
 */
async function appendInSteps(
  store: SqlEventStore,
  stream: string,
  steps: number,
  size: number,
): Promise<number[]> {
  const head = await store.headPosition();
  let last = head;
  for (let i = 0; i < steps; i++) {
    ({ position: last } = await store.append(stream, newEvents(size), {
      expectedRevision: i === 0 ? 'no-stream' : i * size - 1,
    }));
  }
  const deadline = Date.now() + 30_000;
  while ((await store.settledPosition(last)) < last && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  return (await store.readAll({ after: head })).map((e) => e.position);
}

describe('what the subscriptions of a process share', () => {
  let sql: SqlClient;
  let store: SqlEventStore;

  beforeAll(async () => {
    sql = await openDatabase({ inMemory: true });
    store = new SqlEventStore(sql);
    await store.init();
  });

  afterAll(async () => {
    await store.close();
    await sql.close();
  });

  describe(SharedLogReader.name, () => {
    it('answers readers at the tail with one read of the store, and later ones from its window', async () => {
      const source = countedReads(store);
      const sut = new SharedLogReader(source, { emptyReuseMs: 60_000 });
      const head = await store.headPosition();
      const appended = await store.append(streamName('shared'), newEvents(3), {
        expectedRevision: 'no-stream',
      });

      const pages = await Promise.all(
        Array.from({ length: 5 }, () => sut.follow({ after: head, limit: 100 })),
      );
      const later = await sut.follow({ after: appended.events[0].position, limit: 1 });
      // The page was short: it reached the tail, and nothing has woken the reader since.
      const past = await sut.follow({ after: appended.position, limit: 100 });

      expect(source.reads).toHaveLength(1);
      expect(past).toEqual([]);
      for (const page of pages) expect(page).toEqual(appended.events);
      expect(later).toEqual([appended.events[1]]);
    });

    it('gives an empty tail again to subscriptions until woken, but never to a plain reader', async () => {
      const source = countedReads(store);
      const sut = new SharedLogReader(source, { emptyReuseMs: 60_000 });
      const head = await store.headPosition();

      expect(await sut.follow({ after: head, limit: 10 })).toEqual([]);
      expect(await sut.follow({ after: head, limit: 10 })).toEqual([]);
      expect(source.reads).toHaveLength(1);
      // A plain reader must see an append committed before it asked, woken or not.
      const stream = streamName('tail');
      const appended = await store.append(stream, newEvents(1), {
        expectedRevision: 'no-stream',
      });
      expect(await sut.readAll({ after: head, limit: 10 })).toEqual(appended.events);
      expect(source.reads).toHaveLength(2);

      // That answer was a short page: it reached the tail, so until a wake a subscription at
      // its end is told there is nothing more...
      expect(await sut.follow({ after: appended.position, limit: 10 })).toEqual([]);
      const next = await store.append(stream, newEvents(1), { expectedRevision: 0 });
      expect(await sut.follow({ after: appended.position, limit: 10 })).toEqual([]);
      expect(source.reads).toHaveLength(2);
      // ...and once the append's wake-up arrives, it reads again.
      sut.wake();
      expect(await sut.follow({ after: appended.position, limit: 10 })).toEqual(next.events);
      expect(source.reads).toHaveLength(3);
    });

    it('pages a reader behind its window through the store, every event once and in order', async () => {
      const source = countedReads(store);
      const sut = new SharedLogReader(source, { window: 5, pageSize: 4 });
      const head = await store.headPosition();
      const expected = await appendInSteps(store, streamName('window'), 4, 3);
      expect(expected).toHaveLength(12);

      // One reader takes the tail first; then two from the start, at different page sizes.
      expect(await pageThrough((o) => sut.follow(o), expected[9], 4)).toEqual(expected.slice(10));
      expect(await pageThrough((o) => sut.follow(o), head, 3)).toEqual(expected);
      expect(await pageThrough((o) => sut.readAll(o), head, 5)).toEqual(expected);
    });
    it('pages a reader behind its window from what its read of the store brought', async () => {
      const head = await store.headPosition();
      const expected = await appendInSteps(store, streamName('behind'), 4, 5);
      const source = countedReads(store);
      // The empty answer at the tail is reused for as long as the case runs: on a loaded
      // machine the default 50 ms ran out, and the last page's reader asked the store again.
      const sut = new SharedLogReader(source, { window: 4, pageSize: 10, emptyReuseMs: 60_000 });

      // The others at the tail; then a reader far behind, paging 2 at a time: its reads of
      // the store bring 10 events each, and its next four pages come from what they brought.
      expect(await pageThrough((o) => sut.follow(o), expected[15], 4)).toEqual(expected.slice(16));
      const atTail = source.reads.length;
      expect(await pageThrough((o) => sut.follow(o), head, 2)).toEqual(expected);
      expect(source.reads.length - atTail).toBe(2);
    });

    it("hurries a read begun by background work once a request shares it (the store's reader)", async () => {
      const head = await store.headPosition();
      const appended = await store.append(streamName('hurried'), newEvents(2), {
        expectedRevision: 'no-stream',
      });
      await store.settledPosition(appended.position);
      const order: string[] = [];
      const { holding, release } = await holdConnection(sql);
      // Background work queued first, holding the connection for a while once it has it.
      const queued = inBackground(() =>
        sql.transaction(() => new Promise((resolve) => setTimeout(resolve, 20))),
      ).then(() => order.push('other'));
      // A subscription running as background work reads first; a request's reader shares it.
      const byBackground = inBackground(() => store.log.follow({ after: head, limit: 10 }));
      const byRequest = store.log.follow({ after: head, limit: 10 });
      void byRequest.then(() => order.push('shared read'));
      await new Promise((resolve) => setImmediate(resolve));
      release();
      await Promise.all([holding, queued]);
      expect(await byRequest).toEqual(appended.events);
      expect(await byBackground).toEqual(appended.events);
      // It went before the background work queued ahead of it, not after.
      expect(order).toEqual(['shared read', 'other']);
    });
  });

  describe(CheckpointWriter.name, () => {
    it("stores every subscriber's last recorded position in one statement", async () => {
      const statements: string[] = [];
      const counted: SqlClient = {
        engine: sql.engine,
        query: (text, params) => (statements.push(text), sql.query(text, params)),
        exec: (script) => sql.exec(script),
        transaction: (fn) => sql.transaction(fn),
        close: () => sql.close(),
      };
      const sut = new CheckpointWriter(counted, { intervalMs: 60_000 });

      sut.record('writer-a', 3);
      sut.record('writer-b', 5);
      sut.record('writer-a', 9);
      await sut.flush();
      await sut.close(); // nothing recorded since: no statement

      expect(statements).toHaveLength(1);
      expect(await store.readCheckpoint('writer-a')).toBe(9);
      expect(await store.readCheckpoint('writer-b')).toBe(5);
      expect(sut.stored('writer-a')).toBe(9);
    });
  });
});
