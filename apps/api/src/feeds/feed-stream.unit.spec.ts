import { resumePoint } from './feeds.http.controller';
import { feedEntry as entry, FeedPortDouble as FeedDouble } from './testing/feed-port.double';
import {
  FeedStreamSession,
  FeedWakeups,
  formatEntry,
  HEARTBEAT,
  STREAM_BATCH,
  StreamSink,
} from './feed-stream';

/** A client that checks no two writes overlap, and parses what it received. */
class RecordingSink implements StreamSink {
  readonly chunks: string[] = [];
  private writing = false;
  overlapped = false;

  async write(chunk: string): Promise<void> {
    if (this.writing) this.overlapped = true;
    this.writing = true;
    await new Promise((resolve) => setImmediate(resolve));
    this.chunks.push(chunk);
    this.writing = false;
  }
  get ids(): number[] {
    return this.chunks
      .filter((c) => c.startsWith('id: '))
      .map((c) => Number(/^id: (\d+)/.exec(c)?.[1]));
  }
}

describe(formatEntry.name, () => {
  it('writes one event: id is the seq, event the type, data the whole entry on one line', () => {
    const sut = formatEntry(entry(7, { data: { text: 'two\nlines' } }));

    const [id, event, data, ...rest] = sut.split('\n');
    expect([id, event]).toEqual(['id: 7', 'event: WarningIssued']);
    expect(JSON.parse(data.replace(/^data: /, ''))).toEqual(
      entry(7, { data: { text: 'two\nlines' } }),
    );
    expect(rest).toEqual(['', '']);
  });

  it('keeps a line break in a type from ending the field', () => {
    expect(formatEntry(entry(1, { type: 'Bad\nid: 99' })).split('\n')[1]).toBe('event: Badid: 99');
  });
});

describe(resumePoint.name, () => {
  it('resumes after Last-Event-ID first, then ?after=, else from the start', () => {
    expect(resumePoint('12', 3)).toBe(12);
    expect(resumePoint(undefined, 3)).toBe(3);
    expect(resumePoint('', undefined)).toBe(0);
    expect(resumePoint(undefined, undefined)).toBe(0);
  });

  it('refuses a Last-Event-ID that is not a seq', () => {
    expect(() => resumePoint('abc', undefined)).toThrow('Last-Event-ID');
    expect(() => resumePoint('-1', undefined)).toThrow('Last-Event-ID');
    expect(() => resumePoint('1e3', undefined)).toThrow('Last-Event-ID');
  });
});

describe(FeedStreamSession.name, () => {
  const start = (feeds: FeedDouble, after = 0, partner = 'PL') => {
    const sink = new RecordingSink();
    return { sink, sut: new FeedStreamSession(feeds, partner, after, sink) };
  };

  it('sends what follows the resume point, in seq order', async () => {
    const feeds = new FeedDouble();
    feeds.append('PL', 5);
    const { sink, sut } = start(feeds, 2);

    await sut.wake();

    expect(sink.ids).toEqual([3, 4, 5]);
    expect(sut.lastSent).toBe(5);
  });

  it('pages through a long backlog', async () => {
    const feeds = new FeedDouble();
    feeds.append('PL', STREAM_BATCH * 2 + 3);
    const { sink, sut } = start(feeds);

    await sut.wake();

    expect(sink.ids).toHaveLength(STREAM_BATCH * 2 + 3);
    expect(sink.ids.at(-1)).toBe(STREAM_BATCH * 2 + 3);
  });

  it('sends each entry once and never two writes at a time, however many wake-ups overlap', async () => {
    const feeds = new FeedDouble();
    const { sink, sut } = start(feeds);
    const wakes: Promise<void>[] = [];

    for (let round = 0; round < 20; round++) {
      feeds.append('PL', 3);
      wakes.push(sut.wake(), sut.wake(), sut.heartbeat());
    }
    await Promise.all(wakes);
    await sut.wake();

    expect(sink.ids).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(sink.overlapped).toBe(false);
    expect(sink.chunks.filter((c) => c === HEARTBEAT)).toHaveLength(20);
  });

  it('reads only its own partner', async () => {
    const feeds = new FeedDouble();
    feeds.append('GB', 4);
    const { sink, sut } = start(feeds, 0, 'PL');

    await sut.wake();

    expect(sink.chunks).toEqual([]);
  });

  it('stops sending once closed', async () => {
    const feeds = new FeedDouble();
    feeds.append('PL', 2);
    const { sink, sut } = start(feeds);

    sut.close();
    await sut.wake();
    await sut.heartbeat();

    expect(sink.chunks).toEqual([]);
  });

  it('reports a failing read and carries on from where it stood on the next wake-up', async () => {
    const feeds = new FeedDouble();
    feeds.append('PL', 2);
    const errors: unknown[] = [];
    const sink = new RecordingSink();
    const sut = new FeedStreamSession(feeds, 'PL', 0, sink, (e) => errors.push(e));
    const page = feeds.page.bind(feeds);
    jest.spyOn(feeds, 'page').mockRejectedValueOnce(new Error('store down'));

    await sut.wake();
    feeds.page = page;
    await sut.wake();

    expect(errors).toHaveLength(1);
    expect(sink.ids).toEqual([1, 2]);
  });
});

describe(FeedWakeups.name, () => {
  it('wakes the sessions of a partner on append, with one listener for all of them', async () => {
    const feeds = new FeedDouble();
    const sut = new FeedWakeups(feeds, 60_000);
    const sinks = [new RecordingSink(), new RecordingSink(), new RecordingSink()];
    const sessions = sinks.map(
      (sink, i) => new FeedStreamSession(feeds, i < 2 ? 'PL' : 'GB', 0, sink),
    );
    const leaves = sessions.map((session) => sut.add(session));

    feeds.append('PL', 2);
    await sut.wakeAll();

    expect(feeds.listeners.size).toBe(1);
    expect(sinks.map((sink) => sink.ids)).toEqual([[1, 2], [1, 2], []]);
    leaves.forEach((leave) => leave());
    expect(feeds.listeners.size).toBe(0);
    sut.stop();
  });

  it('asks each partner for its head once per wake-up and reads no page for an idle session', async () => {
    const feeds = new FeedDouble();
    feeds.append('PL', 1);
    const sut = new FeedWakeups(feeds, 60_000);
    const sessions = Array.from(
      { length: 50 },
      () => new FeedStreamSession(feeds, 'PL', 1, new RecordingSink()),
    );
    sessions.forEach((session) => sut.add(session));

    await sut.wakeAll();

    expect(feeds.headCalls).toBe(1);
    expect(feeds.pageCalls).toBe(0);
    sut.stop();
  });

  it('polls, so an entry whose wake-up was lost still goes out', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const feeds = new FeedDouble();
      const sut = new FeedWakeups(feeds, 1_000);
      const sink = new RecordingSink();
      sut.add(new FeedStreamSession(feeds, 'PL', 0, sink));
      feeds.listeners.clear();
      feeds.append('PL', 1);

      await jest.advanceTimersByTimeAsync(1_000);
      for (let i = 0; i < 10 && sink.ids.length === 0; i++) {
        await new Promise((resolve) => setImmediate(resolve));
      }

      expect(sink.ids).toEqual([1]);
      sut.stop();
    } finally {
      jest.useRealTimers();
    }
  });
});
