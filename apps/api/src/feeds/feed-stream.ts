import type { FeedEntry, FeedPort } from '@truceline/workflows';

/** How often a stream writes a comment so proxies keep an idle connection open. */
export const HEARTBEAT_MS = 15_000;
/** Wake-ups are a hint; the poll catches anything whose wake-up was lost (another process). */
export const POLL_MS = 1_000;
/** Entries read per page while a stream catches up. */
export const STREAM_BATCH = 200;

export interface FeedStreamTiming {
  heartbeatMs: number;
  pollMs: number;
}

/** One Server-Sent Event per entry: `id:` is the entry's seq, what Last-Event-ID resumes from. */
export function formatEntry(entry: FeedEntry): string {
  // Event types are single words; a line break would end the field and corrupt the stream.
  const type = entry.type.replace(/[\r\n]/g, '');
  return `id: ${entry.seq}\nevent: ${type}\ndata: ${JSON.stringify(entry)}\n\n`;
}

export const HEARTBEAT = ': heartbeat\n\n';

/** Where a stream writes; resolves once the chunk may be followed by the next (backpressure). */
export interface StreamSink {
  write(chunk: string): Promise<void>;
}

/**
 * One client's stream of its partner's feed. Writes go out one at a time through one queue, and
 * entries are read by one pump at a time that advances `lastSeq` only after the write: so entries
 * go out in seq order, each exactly once, whether the wake-up came from an append, the poll or
 * several of them at once, and a heartbeat never lands inside an entry.
 */
export class FeedStreamSession {
  private lastSeq: number;
  private pumping: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly feeds: Pick<FeedPort, 'page'>,
    readonly partner: string,
    after: number,
    private readonly sink: StreamSink,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    this.lastSeq = after;
  }

  /** The seq of the last entry written (or where the client resumed from). */
  get lastSent(): number {
    return this.lastSeq;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends whatever is new; a wake-up during a round runs one more round after it. */
  wake(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.pumping) {
      this.again = true;
      return this.pumping;
    }
    this.pumping = this.pump().finally(() => {
      this.pumping = null;
    });
    return this.pumping;
  }

  heartbeat(): Promise<void> {
    return this.send(HEARTBEAT).catch(this.onError);
  }

  close(): void {
    this.closed = true;
  }

  private send(chunk: string): Promise<void> {
    const sent = this.tail.then(() => (this.closed ? undefined : this.sink.write(chunk)));
    this.tail = sent.catch(() => undefined);
    return sent;
  }

  private async pump(): Promise<void> {
    try {
      do {
        this.again = false;
        for (;;) {
          if (this.closed) return;
          const entries = await this.feeds.page(this.partner, this.lastSeq, STREAM_BATCH);
          for (const entry of entries) {
            if (this.closed) return;
            // Pages only go forward; should one not, the client must still see no repeat.
            if (entry.seq <= this.lastSeq) continue;
            await this.send(formatEntry(entry));
            this.lastSeq = entry.seq;
          }
          if (entries.length < STREAM_BATCH) break;
        }
      } while (this.again);
    } catch (error) {
      this.onError(error);
    }
  }
}

/**
 * The wake-ups every open stream shares: one `onAppended` listener and one poll timer for the
 * whole process, however many clients are connected; each session only has its heartbeat.
 */
export class FeedWakeups {
  private readonly sessions = new Set<FeedStreamSession>();
  private unsubscribe: (() => void) | null = null;
  private poll: NodeJS.Timeout | null = null;

  constructor(
    private readonly feeds: FeedPort,
    private readonly pollMs: number,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  add(session: FeedStreamSession): () => void {
    this.sessions.add(session);
    if (this.sessions.size === 1) this.start();
    return () => {
      this.sessions.delete(session);
      if (this.sessions.size === 0) this.stop();
    };
  }

  /**
   * Wakes the sessions that are behind: one `head` per partner per wake-up rather than one page
   * read per connection, so a thousand idle clients cost a handful of queries a second.
   */
  wakeAll(): Promise<void> {
    const byPartner = new Map<string, FeedStreamSession[]>();
    for (const session of this.sessions) {
      byPartner.set(session.partner, [...(byPartner.get(session.partner) ?? []), session]);
    }
    const woken = [...byPartner].map(async ([partner, sessions]) => {
      const head = await this.feeds.head(partner).catch(() => Number.POSITIVE_INFINITY);
      await Promise.all(sessions.filter((s) => s.lastSent < head).map((s) => s.wake()));
    });
    return Promise.all(woken).then(() => undefined);
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
  }

  private start(): void {
    this.unsubscribe = this.feeds.onAppended(() => void this.wakeAll());
    this.poll = setInterval(() => void this.wakeAll(), this.pollMs);
    this.poll.unref();
  }
}
