import fc from 'fast-check';
import { StoredEvent } from '@truceline/domain';
import { ReadAllOptions } from '@truceline/event-store';
import { FedLog } from './sealing-work';

const eventAt = (position: number): StoredEvent => ({
  id: `e-${position}`,
  type: 'Test',
  schemaVersion: 1,
  streamId: 's',
  revision: position,
  position,
  occurredAt: '2026-12-03T00:00:00.000Z',
  recordedAt: '2026-12-03T00:00:00.000Z',
  data: {},
  metadata: {} as StoredEvent['metadata'],
});

/** A log of positions 1..head (some left out, as a rolled-back append leaves them), its reads counted. */
function logOf(positions: number[]) {
  const events = positions.map(eventAt);
  const reads: ReadAllOptions[] = [];
  return {
    events,
    reads,
    /** Every event in (after, last], as the store's ordered read answers. */
    run: (after: number, last: number) =>
      events.filter((e) => e.position > after && e.position <= last),
    readAll: (options: ReadAllOptions = {}) => {
      reads.push(options);
      const after = options.after ?? 0;
      const found = events.filter((e) => e.position > after);
      return Promise.resolve(found.slice(0, options.limit ?? found.length));
    },
  };
}

/** The positions `log` gives a reader paging from 0 by `limit`. */
async function pageThrough(log: FedLog, limit: number): Promise<number[]> {
  const positions: number[] = [];
  let after = 0;
  for (;;) {
    const page = await log.readAll({ after, limit });
    if (page.length === 0) return positions;
    positions.push(...page.map((e) => e.position));
    after = page[page.length - 1].position;
  }
}

describe(FedLog.name, () => {
  it('answers from the runs handed over, and reads the store only where none covers', async () => {
    const store = logOf([1, 2, 3, 5, 6, 7, 8, 9, 10, 12]);
    const log = new FedLog(store);
    log.add(2, store.run(2, 6));
    log.add(5, store.run(5, 8)); // meets the run before: 7 and 8 join it
    log.add(10, store.run(10, 12)); // a run of its own, after a gap

    expect(await pageThrough(log, 3)).toEqual([1, 2, 3, 5, 6, 7, 8, 9, 10, 12]);
    // 1 and 2 before the first run, 9 and 10 between the runs, the empty end.
    expect(store.reads.map((r) => r.after)).toEqual([0, 8, 12]);
    expect(log.size).toBe(0);
  });

  it('lets go of what the reader has passed, and takes no more than it holds', async () => {
    const store = logOf(Array.from({ length: 30_000 }, (_, i) => i + 1));
    const log = new FedLog(store);
    log.add(0, store.run(0, 15_000));
    log.add(15_000, store.run(15_000, 25_000)); // past what it holds: dropped

    expect(log.size).toBe(15_000);
    expect((await log.readAll({ after: 14_000, limit: 500 })).map((e) => e.position)[0]).toBe(
      14_001,
    );
    expect(log.size).toBe(1_000);
    expect(store.reads).toEqual([]);
  });

  it('gives every event once, in order, whatever runs it is handed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: 80 }), { minLength: 1 }),
        fc.array(fc.tuple(fc.nat(80), fc.nat(80))),
        fc.array(fc.nat(5)),
        fc.integer({ min: 1, max: 9 }),
        async (taken, runs, reads, limit) => {
          const positions = [...taken].sort((a, b) => a - b);
          const store = logOf(positions);
          const log = new FedLog(store);
          const seen: number[] = [];
          let after = 0;
          // Runs handed over between the reader's reads, as the tail arrives meanwhile.
          for (const [i, [from, length]] of runs.entries()) {
            log.add(from, store.run(from, from + length));
            for (let r = 0; r < (reads[i] ?? 0); r++) {
              const page = await log.readAll({ after, limit });
              seen.push(...page.map((e) => e.position));
              if (page.length > 0) after = page[page.length - 1].position;
            }
          }
          for (;;) {
            const page = await log.readAll({ after, limit });
            if (page.length === 0) break;
            seen.push(...page.map((e) => e.position));
            after = page[page.length - 1].position;
          }
          expect(seen).toEqual(positions);
        },
      ),
    );
  });
});
