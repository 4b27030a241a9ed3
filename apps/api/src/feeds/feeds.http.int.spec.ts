import { INestApplication } from '@nestjs/common';
import { loadConfig, signToken } from '@truceline/config';
import type { EventStore } from '@truceline/event-store';
import type { FeedEntry, Runtime } from '@truceline/workflows';
import { createApp } from '../app';
import { FeedsHttpController } from './feeds.http.controller';
import { FeedPortDouble } from './testing/feed-port.double';
import { SseClient } from './testing/sse-client';

const SECRET = 'a-feed-test-secret-long-enough-for-hs256';
const EVENT_ID = '3f1c2b4a-5d6e-4f70-8a91-b2c3d4e5f607';

const unused = () => {
  throw new Error('the feed routes use only the runtime.feeds');
};
const runtimeWith = (feeds?: FeedPortDouble): Runtime => ({
  clock: { mode: 'system', now: () => new Date(), advance: unused },
  store: new Proxy({} as EventStore, { get: unused }),
  commands: { execute: unused },
  queries: { get: unused, list: unused, events: unused, audit: unused },
  policies: { list: unused, adopt: unused },
  ...(feeds && { feeds }),
  health: async () => ({ database: { status: 'up' } }),
  close: async () => undefined,
});

const ministry = (partner: string) =>
  signToken(SECRET, { sub: `min-${partner}`, role: 'ministry', partner });
const operator = signToken(SECRET, { sub: 'ops-1', role: 'operator' });

describe(FeedsHttpController.name, () => {
  let feeds: FeedPortDouble;
  let sut: INestApplication;
  let base: string;
  const clients: SseClient[] = [];

  const start = async (withFeeds = true) => {
    feeds = new FeedPortDouble();
    const config = loadConfig({ TRUCELINE_JWT_SECRET: SECRET, LOG_LEVEL: 'error' });
    sut = await createApp(runtimeWith(withFeeds ? feeds : undefined), config);
    await sut.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(sut.getHttpServer().address() as { port: number }).port}`;
  };
  const get = (path: string, token: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  const open = async (path: string, token: string, headers: Record<string, string> = {}) => {
    const client = await SseClient.open(`${base}${path}`, {
      authorization: `Bearer ${token}`,
      ...headers,
    });
    clients.push(client);
    return client;
  };
  const fieldsOf = async (response: Response) =>
    ((await response.json()) as { errors?: { field: string }[] }).errors?.map((e) => e.field);

  afterEach(async () => {
    clients.splice(0).forEach((client) => client.close());
    await sut?.close();
  });

  describe('GET /v1/feed', () => {
    beforeEach(() => start());

    it("pages the token's partner feed: 100 by default, next = last seq", async () => {
      feeds.append('PL', 120);
      feeds.append('GB', 3);

      const first = (await (await get('/v1/feed', ministry('PL'))).json()) as {
        partner: string;
        entries: FeedEntry[];
        next: number;
      };
      const rest = (await (await get(`/v1/feed?after=${first.next}`, ministry('PL'))).json()) as {
        entries: FeedEntry[];
        next: number;
      };
      const end = (await (await get('/v1/feed?after=120&limit=5', ministry('PL'))).json()) as {
        entries: FeedEntry[];
        next: number;
      };

      expect([first.partner, first.entries.length, first.next]).toEqual(['PL', 100, 100]);
      expect([rest.entries.length, rest.entries[0].seq, rest.next]).toEqual([20, 101, 120]);
      expect(end).toEqual({ partner: 'PL', entries: [], next: 120 });
    });

    it('refuses a bad after or limit, and any other parameter, such as a partner', async () => {
      const responses = await Promise.all(
        ['after=-1', 'limit=0', 'limit=501', 'after=x', 'partner=GB'].map((query) =>
          get(`/v1/feed?${query}`, ministry('PL')),
        ),
      );

      expect(responses.map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
      expect(responses[0].headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await Promise.all(responses.map(fieldsOf))).toEqual([
        ['after'],
        ['limit'],
        ['limit'],
        ['after'],
        ['partner'],
      ]);
      expect(feeds.pageCalls).toBe(0);
    });

    it('is for ministries only', async () => {
      expect((await get('/v1/feed', operator)).status).toBe(403);
      expect((await fetch(`${base}/v1/feed`)).status).toBe(401);
    });
  });

  describe('GET /v1/feed/stream', () => {
    beforeEach(() => start());

    it('streams the backlog, then what is appended, each once and in order', async () => {
      feeds.append('PL', 3);
      const client = await open('/v1/feed/stream', ministry('PL'));

      await client.until((c) => c.events.length === 3, 'the backlog');
      feeds.append('PL', 2);
      feeds.append('GB', 4);
      await client.until((c) => c.events.length === 5, 'the live entries');

      expect(client.response.status).toBe(200);
      expect(client.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(client.response.headers.get('cache-control')).toBe('no-cache');
      expect(client.response.headers.get('x-accel-buffering')).toBe('no');
      expect(client.ids).toEqual([1, 2, 3, 4, 5]);
      expect(client.events[0].event).toBe('WarningIssued');
      expect(JSON.parse(client.events[4].data)).toEqual(feeds.entries.get('PL')?.[4]);
    });

    it('resumes after Last-Event-ID, or after ?after=', async () => {
      feeds.append('PL', 6);

      const byHeader = await open('/v1/feed/stream?after=1', ministry('PL'), {
        'last-event-id': '4',
      });
      const byQuery = await open('/v1/feed/stream?after=5', ministry('PL'));
      await byHeader.until((c) => c.events.length === 2, 'after Last-Event-ID');
      await byQuery.until((c) => c.events.length === 1, 'after ?after=');

      expect(byHeader.ids).toEqual([5, 6]);
      expect(byQuery.ids).toEqual([6]);
    });

    it('refuses a bad Last-Event-ID, unknown parameters and other roles before streaming', async () => {
      const badId = await get('/v1/feed/stream', ministry('PL'), { 'last-event-id': 'x' });
      const partner = await get('/v1/feed/stream?partner=GB', ministry('PL'));
      const role = await get('/v1/feed/stream', operator);

      expect([badId.status, partner.status, role.status]).toEqual([400, 400, 403]);
      expect(await fieldsOf(badId)).toEqual(['Last-Event-ID']);
      expect(badId.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    });

    it('serves many clients with one wake-up listener, and lets go of it when they leave', async () => {
      feeds.append('PL', 1);
      const many = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          open('/v1/feed/stream', ministry(i % 2 ? 'PL' : 'GB')),
        ),
      );
      feeds.append('GB', 2);
      await Promise.all(
        many.map((client, i) =>
          client.until((c) => c.events.length === (i % 2 ? 1 : 2), `client ${i}`),
        ),
      );

      expect(feeds.listeners.size).toBe(1);
      many.forEach((client) => client.close());
      const deadline = Date.now() + 5_000;
      while (feeds.listeners.size > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(feeds.listeners.size).toBe(0);
    });
  });

  describe('POST /v1/feed/acknowledgements', () => {
    beforeEach(() => start());

    const post = (body: unknown, token = ministry('GB')) =>
      fetch(`${base}/v1/feed/acknowledgements`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    it("records the receipt for the token's partner: 201 with the command result", async () => {
      const response = await post({ eventId: EVENT_ID.toUpperCase() });

      expect(response.status).toBe(201);
      expect(await response.json()).toEqual({
        incidentId: expect.any(String),
        eventId: 'ack-1',
        revision: 7,
        position: 70,
      });
      expect(feeds.acknowledged).toEqual([
        {
          partner: 'GB',
          eventId: EVENT_ID,
          actor: { id: 'min-GB', role: 'ministry', partner: 'GB' },
        },
      ]);
    });

    it('refuses a body without a UUID eventId, or naming a partner', async () => {
      const responses = await Promise.all([
        post({}),
        post({ eventId: 'seq-4' }),
        post({ eventId: EVENT_ID, partner: 'FR' }),
      ]);

      expect(responses.map((r) => r.status)).toEqual([400, 400, 400]);
      expect(await Promise.all(responses.map(fieldsOf))).toEqual([
        ['eventId'],
        ['eventId'],
        ['partner'],
      ]);
      expect(feeds.acknowledged).toEqual([]);
      expect((await post({ eventId: EVENT_ID }, operator)).status).toBe(403);
    });
  });

  it('answers 503 on every feed route when the runtime serves no feeds', async () => {
    await start(false);

    const page = await get('/v1/feed', ministry('PL'));
    const stream = await get('/v1/feed/stream', ministry('PL'));
    const ack = await fetch(`${base}/v1/feed/acknowledgements`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ministry('PL')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ eventId: EVENT_ID }),
    });

    expect([page.status, stream.status, ack.status]).toEqual([503, 503, 503]);
    expect(stream.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
