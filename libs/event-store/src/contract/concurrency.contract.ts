import { ConcurrencyError, NewEvent } from '@truceline/domain';
import { AppendOptions, EventStore } from '../event-store.port';
import {
  ContractContext,
  deferred,
  newEvent,
  newEvents,
  outcome,
  range,
  sleep,
  streamName,
  track,
} from './contract-kit';

/** Writers racing each other, and readers racing writers. */
export function concurrencyContract({ sut, fixture }: ContractContext): void {
  describe('concurrency', () => {
    /*
     * Writer A holds its transaction open (beforeCommit) after taking its positions; B and C
     * append to other streams meanwhile and a reader reads the log. PostgreSQL runs them on
     * other connections: B and C commit at once (appends to different streams do not queue),
     * while the reader must not see them — their positions lie after A's, and a tailing reader
     * that took them would skip A for good. PGlite has one connection: B, C and the reader
     * queue behind A.
     */
    it('never lets a reader see past a writer in flight, while other writers commit', async () => {
      const head = await sut().headPosition();
      const held = holdWriter(sut, newEvents(2));
      await held.inFlight;
      let readerSawWhileHeld: unknown;
      let writerB, writerC;
      try {
        writerB = track(sut().append(streamName('b'), newEvents(1), { expectedRevision: 'any' }));
        writerC = track(sut().append(streamName('c'), newEvents(1), { expectedRevision: 'any' }));
        if (fixture().readsDuringWrites) {
          await within(Promise.all([writerB.promise, writerC.promise]), 5_000, 'B and C commit');
          readerSawWhileHeld = await sut().readAll({ after: head });
        } else {
          const reader = track(sut().readAll({ after: head }));
          await sleep(300); // time for B, C and the reader to reach the engine and queue
          expect([writerB.settled, writerC.settled, reader.settled]).toEqual([false, false, false]);
          readerSawWhileHeld = [];
        }
        expect(held.writer.settled).toBe(false);
      } finally {
        held.release(); // never leave a transaction open for the rest of the suite
      }
      const [a, b, c] = await Promise.all([held.writer.promise, writerB.promise, writerC.promise]);

      expect(readerSawWhileHeld).toEqual([]);
      expect(a.events.map((e) => e.position)).toEqual([head + 1, head + 2]);
      expect([b.position, c.position].sort((x, y) => x - y)).toEqual([head + 3, head + 4]);
      const all = await sut().readAll({ after: head });
      expect(all.map((e) => e.position)).toEqual(range(head + 1, 4));
      expect(all.map((e) => e.id)).toEqual(
        expect.arrayContaining([...a.events, ...b.events, ...c.events].map((e) => e.id)),
      );
    });

    it('keeps a tailing reader gap-free across a held transaction under 8 concurrent writers', async () => {
      const head = await sut().headPosition();
      const held = holdWriter(sut, newEvents(1));
      await held.inFlight;
      const writers = range(0, 8).map(async (writer) => {
        const stream = streamName(`writer-${writer}`);
        for (let i = 0; i < 5; i++) {
          await sut().append(stream, newEvents(2), {
            expectedRevision: i === 0 ? 'no-stream' : i * 2 - 1,
          });
        }
      });
      const total = 1 + 8 * 5 * 2;
      const seen: number[] = [];
      let tailing = true;
      const reader = (async () => {
        while (tailing && seen.length < total) {
          const page = await sut().readAll({ after: seen.at(-1) ?? head, limit: 7 });
          seen.push(...page.map((e) => e.position));
        }
      })();

      try {
        if (fixture().readsDuringWrites) {
          await within(Promise.all(writers), 10_000, '8 writers commit beside a held one');
          await sleep(50);
          // Every writer committed, yet all their positions lie behind A's: the reader waits.
          expect(seen).toEqual([]);
        } else {
          await sleep(200);
        }
        expect(held.writer.settled).toBe(false);
      } finally {
        held.release();
      }
      await held.writer.promise;
      await Promise.all(writers);
      await within(reader, 10_000, 'the reader catches up').finally(() => (tailing = false));

      // Every position once, in order, none skipped — A's included.
      expect(seen).toEqual(range(head + 1, total));
      const all = await sut().readAll({ after: head });
      expect(all.map((e) => e.position)).toEqual(seen);
    });

    it('answers each append of a burst on its own: appends, conflicts and retries side by side', async () => {
      const stored = streamName('stored');
      const original = newEvents(2);
      const first = await sut().append(stored, original, { expectedRevision: 'no-stream' });
      const existing = streamName('existing');
      await sut().append(existing, newEvents(1), { expectedRevision: 'no-stream' });
      const head = await sut().headPosition();

      // All issued before any settles: the store may send them together.
      const fresh = range(0, 12).map(() => newEvents(2));
      const burst = {
        fresh: fresh.map((events) =>
          outcome(sut().append(streamName('fresh'), events, { expectedRevision: 'no-stream' })),
        ),
        conflict: outcome(sut().append(existing, newEvents(1), { expectedRevision: 'no-stream' })),
        retry: outcome(sut().append(stored, original, { expectedRevision: 'no-stream' })),
        elsewhere: outcome(
          sut().append(streamName('elsewhere'), original, { expectedRevision: 'any' }),
        ),
        partly: outcome(
          sut().append(streamName('partly'), [original[0], newEvent()], {
            expectedRevision: 'any',
          }),
        ),
      };

      const appended = await Promise.all(burst.fresh);
      for (const [i, result] of appended.entries()) {
        expect(result.ok && result.value.events.map((e) => e.id)).toEqual(
          fresh[i].map((e) => e.id),
        );
      }
      const conflict = await burst.conflict;
      expect(!conflict.ok && conflict.error).toBeInstanceOf(ConcurrencyError);
      const retry = await burst.retry;
      expect(retry.ok && retry.value).toEqual({ ...first, duplicate: true });
      for (const refused of [await burst.elsewhere, await burst.partly]) {
        expect(!refused.ok && refused.error).toMatchObject({ code: 'idempotency-conflict' });
      }
      // Exactly the accepted appends were written, at gap-free positions after the head.
      const written = await sut().readAll({ after: head });
      expect(written.map((e) => e.position)).toEqual(range(head + 1, 12 * 2));
      expect(written.map((e) => e.id).sort()).toEqual(
        fresh
          .flat()
          .map((e) => e.id)
          .sort(),
      );
    });

    /*
     * A guarded append (a command decided with the policy its process holds) and an append to
     * its guard stream (an adoption) in flight at once: whichever is held, the other waits for
     * its COMMIT, so no event decided under the older policy is stored after the adoption.
     * PGlite has one connection, where the other queues behind the held one anyway.
     */
    it('makes a guarded append wait for an append to its guard stream in flight, then refuses it', async () => {
      const guardStream = streamName('guard');
      const guardedStream = streamName('guarded');
      const held = holdAppend(sut, guardStream, { expectedRevision: 'no-stream' });
      await held.inFlight;
      let guarded;
      try {
        guarded = track(
          sut().append(guardedStream, newEvents(1), {
            expectedRevision: 'no-stream',
            guard: { streamId: guardStream, revision: -1 },
          }),
        );
        await sleep(300); // time for the guarded append to reach the engine
        expect(guarded.settled).toBe(false);
      } finally {
        held.release();
      }
      await held.writer.promise;
      const refusal = await guarded.promise.catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(ConcurrencyError);
      expect(refusal).toMatchObject({ streamId: guardStream, expected: -1, actual: 0 });
      expect(await sut().streamRevision(guardedStream)).toBeNull();
    });

    it('makes an append to a guard stream wait for the guarded appends in flight', async () => {
      const guardStream = streamName('guard');
      const held = holdAppend(sut, streamName('guarded'), {
        expectedRevision: 'no-stream',
        guard: { streamId: guardStream, revision: -1 },
      });
      await held.inFlight;
      let adoption;
      try {
        adoption = track(
          sut().append(guardStream, newEvents(1), { expectedRevision: 'no-stream' }),
        );
        await sleep(300); // time for the append to the guard stream to reach the engine
        expect(adoption.settled).toBe(false);
      } finally {
        held.release();
      }
      const [guarded, adopted] = await Promise.all([held.writer.promise, adoption.promise]);
      expect(guarded.position).toBeLessThan(adopted.position);
    });

    it('lets exactly one of 50 writers win each revision: losers get ConcurrencyError', async () => {
      const stream = streamName('race');
      await sut().append(stream, newEvents(1), { expectedRevision: 'no-stream' });

      const outcomes = await Promise.all(
        range(0, 50).map(async () => {
          const expected = (await sut().streamRevision(stream)) as number;
          await sleep(Math.random() * 5); // spread the appends so some read a revision others already passed
          const attempt = await outcome(
            sut().append(stream, [newEvent()], { expectedRevision: expected }),
          );
          return { expected, ...attempt };
        }),
      );

      const wins = outcomes.flatMap((o) =>
        o.ok ? [{ expected: o.expected, result: o.value }] : [],
      );
      const losses = outcomes.flatMap((o) => (o.ok ? [] : [o.error]));
      expect(wins.length).toBeGreaterThan(0);
      expect(wins.length + losses.length).toBe(50);
      for (const error of losses) expect(error).toBeInstanceOf(ConcurrencyError);
      // No lost update: each winner extended exactly the revision it had read, and no two
      // winners read the same one.
      for (const win of wins) expect(win.result.nextExpectedRevision).toBe(win.expected + 1);
      expect(new Set(wins.map((w) => w.expected)).size).toBe(wins.length);
      const stored = await sut().readStream(stream);
      expect(stored.map((e) => e.revision)).toEqual(range(0, 1 + wins.length));
    });

    it('loses no update when 50 writers retry read-then-append until they succeed', async () => {
      const stream = streamName('counter');
      const writers = range(0, 50).map(async (writer) => {
        for (let attempt = 0; attempt < 200; attempt++) {
          const expected = await sut().streamRevision(stream);
          try {
            return await sut().append(stream, [newEvent({ writer })], {
              expectedRevision: expected ?? 'no-stream',
            });
          } catch (error) {
            if (!(error instanceof ConcurrencyError)) throw error;
          }
        }
        throw new Error(`writer ${writer} never won`);
      });

      await Promise.all(writers);

      const stored = await sut().readStream(stream);
      expect(stored.map((e) => e.revision)).toEqual(range(0, 50));
      expect(
        stored.map((e) => (e.data as { writer: number }).writer).sort((x, y) => x - y),
      ).toEqual(range(0, 50));
    });
  });
}

/** An append held open inside its transaction, after its positions were taken. */
function holdWriter(sut: () => EventStore, events: NewEvent[]) {
  return holdAppend(sut, streamName('held'), { expectedRevision: 'no-stream' }, events);
}

/** One append to `stream` with `options`, held open inside its transaction after its positions. */
function holdAppend(
  sut: () => EventStore,
  stream: string,
  options: AppendOptions,
  events: NewEvent[] = newEvents(1),
) {
  const inFlight = deferred();
  const release = deferred();
  const writer = track(
    sut().append(stream, events, {
      ...options,
      beforeCommit: async () => {
        inFlight.resolve();
        await release.promise;
      },
    }),
  );
  return { inFlight: inFlight.promise, writer, release: () => release.resolve() };
}

/** The promise, or a clear failure once `ms` passed (a test waiting on a serialized engine). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
