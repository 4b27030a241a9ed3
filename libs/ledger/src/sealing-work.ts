import { StoredEvent } from '@truceline/domain';
import { EventStore, ReadAllOptions } from '@truceline/event-store';
import { leafHashHexOf } from './leaf';
import { CompactRange } from './merkle/compact-range';

/** Committed events hashed into leaves, and the tree they lead to: what one sealing round stores. */
export interface HashedRun {
  positions: number[];
  /** Leaf hashes, 64 hex digits each, in position order. */
  hashes: string[];
  /** The tree it was hashed onto, with these leaves appended. */
  range: CompactRange;
}

/**
 * The part of sealing that is not the sealer's bookkeeping: reading the committed events after
 * a position and hashing them onto the tree. The sealer stores the run it gets back by a
 * statement that writes nothing when the tree moved on meanwhile, so this part writes nothing
 * and may run anywhere — on the thread of the appends, or a thread of its own.
 */
export interface SealingWork {
  /**
   * The next committed events after `after` (at most `limit`, a gap-free prefix of the log)
   * hashed onto a copy of `range`; null when there are none yet.
   */
  next(after: number, range: CompactRange, limit: number): Promise<HashedRun | null>;
}

/** Events hashed between two turns of the event loop: about a third of a millisecond. */
const HASH_SLICE = 32;

/**
 * Reads through the store's ordered read (which never skips a transaction still in flight) and
 * hashes on this thread. With `yieldEvery`, a few hundred events are hashed in slices between
 * which the appends of this thread get their answers, so none waits for longer than a slice.
 */
export class ReadAndHash implements SealingWork {
  constructor(
    private readonly store: Pick<EventStore, 'readAll'>,
    private readonly options: { yieldEvery?: number } = { yieldEvery: HASH_SLICE },
  ) {}

  async next(after: number, range: CompactRange, limit: number): Promise<HashedRun | null> {
    const events = await this.store.readAll({ after, limit });
    if (events.length === 0) return null;
    const slice = this.options.yieldEvery ?? events.length;
    const grown = range.copy();
    const hashes: string[] = [];
    for (let from = 0; from < events.length; from += slice) {
      if (from > 0) await new Promise((resolve) => setImmediate(resolve));
      for (let i = from; i < Math.min(from + slice, events.length); i++) {
        const hash = leafHashHexOf(events[i]);
        hashes.push(hash);
        grown.appendHex(hash);
      }
    }
    return { positions: events.map((event) => event.position), hashes, range: grown };
  }
}

/** Events a FedLog holds at most; a run that would pass it is dropped (read later instead). */
const FED_HELD = 20_000;

/** Every committed event in (after, the last one's]: `events` from `start` on. */
interface Held {
  after: number;
  events: StoredEvent[];
  start: number;
}

/**
 * The log as the sealing thread reads it when its process's readers hand it what they read at
 * the tail (see SharedLogReader.onTail): a read is answered from the runs handed over when one
 * covers it, else by the store. Each run is every committed event in (after, last] — what the
 * store's ordered read answered — so a slice of one from a position it covers is a gap-free
 * prefix of the log, as the store's own answer would be. Runs that meet are joined; what the
 * sealer has read past is let go at its next read.
 */
export class FedLog implements Pick<EventStore, 'readAll'> {
  private readonly held: Held[] = [];
  private count = 0;

  constructor(private readonly store: Pick<EventStore, 'readAll'>) {}

  /** Takes every committed event in (after, the last one's], in position order. */
  add(after: number, events: readonly StoredEvent[]): void {
    if (events.length === 0) return;
    const last = this.held[this.held.length - 1];
    const end = last ? last.events[last.events.length - 1].position : -1;
    const meets = last !== undefined && after <= end;
    let first = 0;
    // Meeting the last run, only what lies past it is new.
    if (meets) while (first < events.length && events[first].position <= end) first++;
    const fresh = events.length - first;
    if (fresh === 0 || this.count + fresh > FED_HELD) return;
    this.count += fresh;
    if (meets) for (let i = first; i < events.length; i++) last.events.push(events[i]);
    else this.held.push({ after, events: events.slice(), start: 0 });
  }

  readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const after = options.after ?? 0;
    const { limit, until } = options;
    this.letGo(after);
    const run = this.held[0];
    if (run && run.after <= after && limit !== undefined && until === undefined)
      return Promise.resolve(run.events.slice(run.start, run.start + limit));
    return this.store.readAll(options);
  }

  /** Events held at present. */
  get size(): number {
    return this.count;
  }

  /** Lets go of what lies at or before `after`: the sealer reads on from there. */
  private letGo(after: number): void {
    while (this.held.length > 0) {
      const run = this.held[0];
      const { events } = run;
      if (events[events.length - 1].position <= after) {
        this.count -= events.length - run.start;
        this.held.shift();
        continue;
      }
      let start = run.start;
      while (events[start].position <= after) start++;
      if (start > run.start) {
        this.count -= start - run.start;
        run.start = start;
        run.after = events[start - 1].position;
      }
      return;
    }
  }
}
