import { StoredEvent } from '@truceline/domain';
import { EventStore, ReadAllOptions } from './event-store.port';

export interface SharedLogReaderOptions {
  /** Events kept for readers that come later to a page others read (default 2,000). */
  window?: number;
  /** Events asked of the store per read, whatever a reader's own limit (default 500). */
  pageSize?: number;
  /** How long an empty answer at the tail is reused when nothing woke the reader (default 50 ms). */
  emptyReuseMs?: number;
  /**
   * Runs a read of the store so that a reader who joins it may hurry it (the embedded store's
   * `promotable`: a request that shares a read begun by background work must not wait behind
   * the background work). By default a read is run as it is.
   */
  promotable?: <T>(read: () => T) => { result: T; promote: () => void };
}

const unpromotable = <T>(read: () => T) => ({ result: read(), promote: () => undefined });

/**
 * Answers read behind the window kept aside (see SharedLogReader): enough for the readers that
 * lag while the others follow the tail (the feeds' projection, the sealer), at most this many
 * pages of events held besides the window.
 */
const BEHIND_KEPT = 2;

/**
 * One read of the log shared by every reader of a process: the subscriptions of the
 * projections and services and the log's sealer each read the same pages, and without this each
 * sent its own statement after every append.
 *
 * It keeps the last pages read (a window of the log) and answers a paging read
 * (`{ after, limit }`) from it when it covers `after`; a read at the tail goes to the store, and
 * readers asking for the same page meanwhile wait for that one read. Every reader still pages
 * at its own pace, keeps its own checkpoint and retries on its own: a slow or failing one holds
 * up nobody, and one that falls behind the window reads from the store for itself until it
 * catches up. What such a read brings (a full page, more than the reader asked for) is kept
 * aside, apart from the window (the last BEHIND_KEPT of them): the reader's next pages come
 * from it instead of a read of the store each.
 *
 * Why it never skips: every answer of the store to `after` is a gap-free prefix of the log after
 * `after` — every event that will ever hold a position in (after, last] (see SqlEventStore). The
 * window is the union of such answers that meet or overlap, so it too is complete over the range
 * it covers, and any slice of it from a position it covers is such a prefix.
 *
 * An empty answer at the tail — or the end of a short page, which reached the tail — is reused
 * for a short while as long as nothing woke the reader (an append in this process, a NOTIFY
 * from another, see wake): the subscriptions finishing a page one after another then do not
 * each ask the store again for nothing. A read at the tail that began before the last wake is
 * waited for and followed by one more, which the readers arriving meanwhile share: under load
 * one read of the tail is in flight at a time.
 */
export class SharedLogReader implements Pick<EventStore, 'readAll'> {
  private readonly window: number;
  private readonly pageSize: number;
  private readonly emptyReuseMs: number;
  private readonly promotable: NonNullable<SharedLogReaderOptions['promotable']>;
  /**
   * The window: every event with a position in (from, to], in order, is `events` from `start`
   * on. Empty when from = to. Pages are pushed onto it and the oldest let go by moving `start`,
   * the array copied only once what it holds before `start` outgrows the window: copying the
   * whole window for every page read at the tail was a tenth of what a POST allocated in the
   * shared reader and its subscriptions.
   */
  private events: StoredEvent[] = [];
  private start = 0;
  private from = -1;
  private to = -1;
  /** Reads in flight, by the position they read after. */
  private readonly reading = new Map<
    number,
    { events: Promise<StoredEvent[]>; generation: number; promote: () => void }
  >();
  /** Bumped by every wake: an empty answer read before it may be stale. */
  private generation = 0;
  private empty?: { after: number; generation: number; at: number };
  /**
   * Answers of the store to reads behind the window, each every event in (from, to], the
   * latest first.
   */
  private behind: { from: number; to: number; events: StoredEvent[] }[] = [];

  constructor(
    private readonly store: Pick<EventStore, 'readAll'>,
    options: SharedLogReaderOptions = {},
  ) {
    this.window = options.window ?? 2_000;
    this.pageSize = options.pageSize ?? 500;
    this.emptyReuseMs = options.emptyReuseMs ?? 50;
    this.promotable = options.promotable ?? unpromotable;
  }

  /** Something was appended (here or, through NOTIFY, elsewhere): the tail must be read again. */
  wake(): void {
    this.generation++;
  }

  /**
   * The store's readAll. A paging read (a limit, no `until`) is answered from the window or
   * shares a read with others; anything else goes to the store as it is. Like the store's, it
   * sees every append committed before it was called.
   */
  readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    return this.read(options, false);
  }

  /**
   * The same for a subscription, which an append wakes (see wake): an empty answer at the tail
   * that nothing has made stale since is given again without asking the store. An append of
   * another process may then be seen only when its NOTIFY arrives, a moment later.
   */
  follow(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    return this.read(options, true);
  }

  private async read(options: ReadAllOptions, reuseEmpty: boolean): Promise<StoredEvent[]> {
    const { limit, until } = options;
    if (limit === undefined || until !== undefined) return this.store.readAll(options);
    const after = options.after ?? 0;
    if (limit <= 0) return [];
    for (;;) {
      if (this.from <= after && after < this.to)
        return slice(this.events, after, limit, this.start);
      const aside = this.behind.find((kept) => kept.from <= after && after < kept.to);
      if (aside) return slice(aside.events, after, limit);
      const empty = this.empty;
      if (
        reuseEmpty &&
        empty &&
        empty.after === after &&
        empty.generation === this.generation &&
        Date.now() - empty.at < this.emptyReuseMs
      )
        return [];
      const inFlight = this.reading.get(after);
      if (!inFlight) break;
      // Whoever waits for a read hurries it as much as its own work would be.
      inFlight.promote();
      if (reuseEmpty && inFlight.generation === this.generation) {
        // Begun since the last wake: it sees what woke the subscription.
        const events = await inFlight.events;
        return events.length > limit ? events.slice(0, limit) : events;
      }
      // Begun before an append it may not see: wait for it, then look again — what it brings
      // may be all that is needed, and the readers that came meanwhile share the next read.
      await inFlight.events.catch(() => undefined);
    }
    const generation = this.generation;
    const asked = Math.max(limit, this.pageSize);
    const { result: read, promote } = this.promotable(() =>
      this.store.readAll({ after, limit: asked }),
    );
    this.reading.set(after, { events: read, generation, promote });
    const forget = () => {
      if (this.reading.get(after)?.events === read) this.reading.delete(after);
    };
    read.then((events) => {
      forget();
      this.keep(after, events, generation, asked);
    }, forget);
    const events = await read;
    return events.length > limit ? events.slice(0, limit) : events;
  }

  /** Joins a store's answer to the window when the two meet; else it replaces a window behind it. */
  private keep(after: number, events: StoredEvent[], generation: number, asked: number): void {
    const last = events.length > 0 ? events[events.length - 1].position : after;
    // A short page reached the tail as it stood at `generation`: nothing is known past it until
    // a wake, so the subscriptions finishing it need not each ask for the next.
    if (events.length < asked) this.empty = { after: last, generation, at: Date.now() };
    if (events.length === 0) return;
    if (after < this.from) {
      // A reader behind the window: its next pages are in this answer, which the window, kept
      // at the tail, would not hold (or would drop again at once).
      this.behind = [{ from: after, to: last, events }, ...this.behind].slice(0, BEHIND_KEPT);
    }
    if (this.from < 0 || after > this.to) {
      // No window yet, or this answer lies ahead of it: the tail is where readers go next. A
      // copy: the answer itself went to the reader that asked, and the window grows in place.
      this.events = events.slice();
      this.start = 0;
      this.from = after;
      this.to = last;
    } else if (last < this.from) {
      return; // a reader far behind: the window stays at the tail
    } else {
      // The ranges (after, last] and (from, to] meet or overlap: their union is complete.
      if (after < this.from) {
        const before = events.filter((e) => e.position <= this.from);
        this.events = [...before, ...this.events.slice(this.start)];
        this.start = 0;
      }
      if (last > this.to) {
        // The answer's events past the window, at its end: positions increase along both.
        let first = events.length;
        while (first > 0 && events[first - 1].position > this.to) first--;
        for (let i = first; i < events.length; i++) this.events.push(events[i]);
      }
      this.from = Math.min(this.from, after);
      this.to = Math.max(this.to, last);
    }
    const excess = this.events.length - this.start - this.window;
    if (excess > 0) {
      this.start += excess;
      this.from = this.events[this.start - 1].position;
      if (this.start >= this.window) {
        this.events = this.events.slice(this.start);
        this.start = 0;
      }
    }
  }
}

/**
 * The events of `events` (gap-free, in position order) from index `start` on that come after
 * `after`, at most `limit`.
 */
function slice(events: StoredEvent[], after: number, limit: number, start = 0): StoredEvent[] {
  // The first event past `after`: positions increase along the list.
  let low = start;
  let high = events.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (events[middle].position <= after) low = middle + 1;
    else high = middle;
  }
  return events.slice(low, low + limit);
}
