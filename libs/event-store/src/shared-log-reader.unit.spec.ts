import fc from 'fast-check';
import { StoredEvent } from '@truceline/domain';
import { ReadAllOptions } from './event-store.port';
import { SharedLogReader } from './shared-log-reader';

const eventAt = (position: number) => ({ position }) as StoredEvent;

describe('SharedLogReader.onTail', () => {
  it('tells every event read past the window once, each run all the events in its range', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.tuple(fc.nat(300), fc.integer({ min: 1, max: 50 }))),
        fc.integer({ min: 5, max: 60 }),
        async (head, asks, window) => {
          const log = Array.from({ length: head }, (_, i) => eventAt(i + 1));
          const store = {
            readAll: ({ after = 0, limit }: ReadAllOptions = {}) =>
              Promise.resolve(log.filter((e) => e.position > after).slice(0, limit)),
          };
          const reader = new SharedLogReader(store, { window, pageSize: 20 });
          const told: { after: number; positions: number[] }[] = [];
          const stop = reader.onTail((after, events) =>
            told.push({ after, positions: events.map((e) => e.position) }),
          );
          for (const [after, limit] of asks) await reader.readAll({ after, limit });
          stop();
          await reader.readAll({ after: head - 1, limit: 1 });

          const seen = new Set<number>();
          for (const run of told) {
            expect(run.positions.length).toBeGreaterThan(0);
            // Every position in (after, last], in order: the log has no gaps here.
            const last = run.positions[run.positions.length - 1];
            expect(run.positions).toEqual(
              Array.from({ length: last - run.after }, (_, i) => run.after + 1 + i),
            );
            for (const p of run.positions) {
              expect(seen.has(p)).toBe(false);
              seen.add(p);
            }
          }
        },
      ),
    );
  });
});
