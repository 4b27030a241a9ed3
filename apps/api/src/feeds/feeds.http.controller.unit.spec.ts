import type { Actor } from '@truceline/domain';
import { EventEmitter } from 'node:events';
import { FeedsHttpController } from './feeds.http.controller';
import { HEARTBEAT } from './feed-stream';
import { FeedPortDouble } from './testing/feed-port.double';

const PL: Actor = { id: 'min-PL', role: 'ministry', partner: 'PL' };

/** Just enough of a raw response to watch what a stream writes, and to hang up. */
class ResponseDouble extends EventEmitter {
  readonly headers = new Map<string, string>();
  readonly chunks: string[] = [];
  statusCode = 0;
  flushed = false;
  destroyed = false;
  writableEnded = false;

  setHeader(name: string, value: string) {
    this.headers.set(name.toLowerCase(), value);
  }
  flushHeaders() {
    this.flushed = true;
  }
  write(chunk: string) {
    this.chunks.push(chunk);
    return true;
  }
  end() {
    this.writableEnded = true;
    this.emit('close');
  }
  hangUp() {
    this.destroyed = true;
    this.emit('close');
  }
}

const until = async (ready: () => boolean) => {
  for (let i = 0; i < 200 && !ready(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!ready()) throw new Error('not within 1 s');
};

describe(FeedsHttpController.name, () => {
  const start = (timing = { heartbeatMs: 20, pollMs: 60_000 }) => {
    const feeds = new FeedPortDouble();
    const sut = new FeedsHttpController({ feeds }, timing);
    return { feeds, sut };
  };
  const stream = (sut: FeedsHttpController, lastEventId?: string) => {
    const response = new ResponseDouble();
    sut.stream({}, lastEventId, PL, {
      hijack: () => undefined,
      getHeaders: () => ({ 'x-correlation-id': 'c-1' }),
      raw: response,
    });
    return response;
  };

  it('flushes the SSE headers at once, before any entry exists', () => {
    const { sut } = start();

    const response = stream(sut);

    expect(response.statusCode).toBe(200);
    expect(response.flushed).toBe(true);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      // Set on Fastify's reply before the stream took the raw response over.
      'x-correlation-id': 'c-1',
    });
    response.hangUp();
  });

  it('writes heartbeats between entries, and stops everything when the client hangs up', async () => {
    const { feeds, sut } = start();
    feeds.append('PL', 2);

    const response = stream(sut, '1');
    await until(() => response.chunks.filter((c) => c === HEARTBEAT).length >= 2);
    response.hangUp();
    const written = response.chunks.length;
    feeds.append('PL', 1);
    await new Promise((r) => setTimeout(r, 60));

    expect(response.chunks.filter((c) => c.startsWith('id: '))).toEqual([
      expect.stringMatching(/^id: 2\n/),
    ]);
    expect(response.chunks).toHaveLength(written);
    expect(feeds.listeners.size).toBe(0);
  });

  it('ends the open streams when the app shuts down', () => {
    const { feeds, sut } = start();
    const responses = [stream(sut), stream(sut)];

    sut.onModuleDestroy();

    expect(responses.map((r) => r.writableEnded)).toEqual([true, true]);
    expect(feeds.listeners.size).toBe(0);
  });
});
