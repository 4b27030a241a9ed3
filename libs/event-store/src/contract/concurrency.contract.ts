import { ConcurrencyError } from '@truceline/domain';
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
     * start appending meanwhile and a reader reads the log. PostgreSQL runs them on other
     * connections: B and C block on A's head lock and the reader answers at once from committed
     * data. PGlite has one connection: B, C and the reader queue behind A. Either way nothing
     * may commit behind A's back, and no reader may see an event positioned after A's while A
     * is uncommitted, which would make a tailing reader skip A for good.
     */
    it('never lets a reader see past a writer in flight: positions follow commit order', async () => {
      const head = await sut().headPosition();
      const inFlight = deferred();
      const release = deferred();
      const eventsOfA = newEvents(2);
      const writerA = track(
        sut().append(streamName('a'), eventsOfA, {
          expectedRevision: 'no-stream',
          beforeCommit: async () => {
            inFlight.resolve();
            await release.promise;
          },
        }),
      );
      await inFlight.promise;
      const writerB = track(
        sut().append(streamName('b'), newEvents(1), { expectedRevision: 'any' }),
      );
      const writerC = track(
        sut().append(streamName('c'), newEvents(1), { expectedRevision: 'any' }),
      );
      const reader = track(sut().readAll({ after: head }));
      await sleep(300); // time for B, C and the reader to reach the engine and block or answer
      const whileAInFlight = {
        writerASettled: writerA.settled,
        writerBSettled: writerB.settled,
        writerCSettled: writerC.settled,
        readerAnswered: reader.settled,
        readerSaw: reader.value,
      };
      release.resolve();
      const [a, b, c] = await Promise.all([writerA.promise, writerB.promise, writerC.promise]);
      const readerSaw = await reader.promise;

      expect(whileAInFlight).toMatchObject({
        writerASettled: false,
        writerBSettled: false,
        writerCSettled: false,
      });
      if (fixture().readsDuringWrites) {
        expect(whileAInFlight.readerAnswered).toBe(true);
        expect(whileAInFlight.readerSaw).toEqual([]);
      }
      // Whatever the reader got, whenever it got it, is a gap-free run from the head onwards.
      expect(readerSaw.map((e) => e.position)).toEqual(range(head + 1, readerSaw.length));
      expect(a.events.map((e) => e.position)).toEqual([head + 1, head + 2]);
      expect([b.position, c.position].sort((x, y) => x - y)).toEqual([head + 3, head + 4]);
      const all = await sut().readAll({ after: head });
      expect(all.map((e) => e.position)).toEqual(range(head + 1, 4));
      expect(all.map((e) => e.id)).toEqual(
        expect.arrayContaining([...a.events, ...b.events, ...c.events].map((e) => e.id)),
      );
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
