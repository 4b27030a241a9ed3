import { StoredEvent } from '@truceline/domain';
import { EventStore, SqlEventStore, StoredEventJsonText } from '@truceline/event-store';
import { leafHashHexOf, leafHashHexOfJsonText } from './leaf';
import { CompactRange } from './merkle/compact-range';

/** Committed events hashed into leaves, and the tree they lead to: what one sealing round stores. */
export interface HashedRun {
  positions: number[];
  /**
   * The leaf hashes in position order, 64 hex digits each, one after the other: the form the
   * sealer stores them in, passed on from the sealing thread as it is.
   */
  hashes: string;
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
 *
 * Given a SqlEventStore's readAllJsonText instead (the sealing thread), it reads each event's
 * data and metadata as JSON text and parses them as it hashes that event: the page then stays
 * alive as flat strings rather than 500 object trees, which the garbage collector would copy
 * at every scavenge, on threads of the appends' priority.
 */
export class ReadAndHash implements SealingWork {
  constructor(
    private readonly store: Pick<EventStore, 'readAll'> | Pick<SqlEventStore, 'readAllJsonText'>,
    private readonly options: { yieldEvery?: number } = { yieldEvery: HASH_SLICE },
  ) {}

  async next(after: number, range: CompactRange, limit: number): Promise<HashedRun | null> {
    // The read decides how an event is hashed: data that is a JSON string is a string either way.
    const read: { events: { position: number }[]; hash: (i: number) => string } =
      'readAllJsonText' in this.store
        ? jsonTextRead(await this.store.readAllJsonText({ after, limit }))
        : parsedRead(await this.store.readAll({ after, limit }));
    const { events } = read;
    if (events.length === 0) return null;
    const slice = this.options.yieldEvery ?? events.length;
    const grown = range.copy();
    const positions: number[] = [];
    let hashes = '';
    for (let from = 0; from < events.length; from += slice) {
      if (from > 0) await new Promise((resolve) => setImmediate(resolve));
      for (let i = from; i < Math.min(from + slice, events.length); i++) {
        const hash = read.hash(i);
        positions.push(events[i].position);
        hashes += hash;
        grown.appendHex(hash);
      }
    }
    return { positions, hashes, range: grown };
  }
}

const parsedRead = (events: StoredEvent[]) => ({
  events,
  hash: (i: number) => leafHashHexOf(events[i]),
});

const jsonTextRead = (events: StoredEventJsonText[]) => ({
  events,
  hash: (i: number) => leafHashHexOfJsonText(events[i]),
});
