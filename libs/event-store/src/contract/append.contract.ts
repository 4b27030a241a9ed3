import { ConcurrencyError } from '@truceline/domain';
import { ExpectedRevision } from '../event-store.port';
import { ContractContext, newEvent, newEvents, range, streamName } from './contract-kit';

/** Append with expected revision, idempotent ids, reading back by stream and globally. */
export function appendContract({ sut }: ContractContext): void {
  describe('append and read', () => {
    it('stores the envelope and reads it back by stream and from the global log', async () => {
      const stream = streamName('envelope');
      const first = newEvent({
        list: [1, 'two', null],
        // What the data's quoting in the statement must carry through (see callAppend).
        nested: { text: 'Київ ü', quoted: 'a "b" \\c\\ {d,e}\n\tf 🙂 \u2028 NULL' },
        n: 1.5,
      });
      first.occurredAt = '2026-03-02T06:00:00+02:00';
      const second = newEvent({}, 'OtherThingHappened');
      const head = await sut().headPosition();

      const result = await sut().append(stream, [first, second], { expectedRevision: 'no-stream' });

      expect(result).toMatchObject({
        streamId: stream,
        nextExpectedRevision: 1,
        position: head + 2,
        duplicate: false,
      });
      expect(result.events).toEqual([
        {
          id: first.id,
          type: first.type,
          schemaVersion: 1,
          streamId: stream,
          revision: 0,
          position: head + 1,
          occurredAt: '2026-03-02T04:00:00.000Z',
          recordedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
          data: first.data,
          metadata: first.metadata,
        },
        expect.objectContaining({ id: second.id, type: second.type, revision: 1 }),
      ]);
      expect(await sut().readStream(stream)).toEqual(result.events);
      expect(await sut().readAll({ after: head })).toEqual(result.events);
      expect(await sut().streamRevision(stream)).toBe(1);
      expect(await sut().headPosition()).toBe(head + 2);
    });

    it('keeps stream ids and types as given, whatever characters they hold', async () => {
      // What the quoting of the statement's array parameters must carry through (see callAppend).
      const odd = ['a "b" \\c\\', '{d,e} NULL', ' f\t🙂 ', 'NULL'];
      const appends = odd.map((text) => ({
        stream: `${streamName('odd')}${text}`,
        events: [newEvent({}, text), newEvent({}, `${text}"`)],
      }));

      // Together, so that the appends may go to the store as one group.
      const results = await Promise.all(
        appends.map(({ stream, events }) =>
          sut().append(stream, events, { expectedRevision: 'no-stream' }),
        ),
      );

      for (const [i, { stream, events }] of appends.entries()) {
        expect(results[i].events.map((e) => [e.streamId, e.type])).toEqual(
          events.map((e) => [stream, e.type]),
        );
        expect(await sut().readStream(stream)).toEqual(results[i].events);
        expect(await sut().streamRevision(stream)).toBe(1);
      }
    });

    it('gives an event id sent in upper case back as the store holds it, in lower case', async () => {
      const stream = streamName('upper-id');
      const event = newEvent({});
      event.id = event.id.toUpperCase();

      const result = await sut().append(stream, [event], { expectedRevision: 'no-stream' });
      const retry = await sut().append(stream, [event], { expectedRevision: 'no-stream' });

      expect(result.events[0].id).toBe(event.id.toLowerCase());
      expect(await sut().readStream(stream)).toEqual(result.events);
      expect(retry).toEqual({ ...result, duplicate: true });
    });

    it('reports an unknown stream as empty, with no revision', async () => {
      expect(await sut().readStream(streamName('unknown'))).toEqual([]);
      expect(await sut().streamRevision(streamName('unknown'))).toBeNull();
    });

    it('appends when the expected revision holds: exact number, exists, any', async () => {
      const stream = streamName('expected');
      await sut().append(stream, newEvents(1), { expectedRevision: 'no-stream' });
      const exact = await sut().append(stream, newEvents(2), { expectedRevision: 0 });
      const exists = await sut().append(stream, newEvents(1), { expectedRevision: 'exists' });
      const any = await sut().append(stream, newEvents(1), { expectedRevision: 'any' });
      const anyNew = await sut().append(streamName('any'), newEvents(1), {
        expectedRevision: 'any',
      });

      expect([exact, exists, any].map((r) => r.nextExpectedRevision)).toEqual([2, 3, 4]);
      expect(anyNew.nextExpectedRevision).toBe(0);
      expect((await sut().readStream(stream)).map((e) => e.revision)).toEqual(range(0, 5));
    });

    const conflicts: [string, boolean, ExpectedRevision][] = [
      ['no-stream on a stream that exists', true, 'no-stream'],
      ['exists on a stream that does not', false, 'exists'],
      ['a stale revision', true, 0],
      ['a revision ahead of the stream', true, 5],
      ['a revision on a stream that does not exist', false, 0],
    ];
    it.each(conflicts)(
      'rejects %s with ConcurrencyError and writes nothing of a multi-event append',
      async (_, existing, expectedRevision) => {
        const stream = streamName('conflict');
        if (existing) await sut().append(stream, newEvents(2), { expectedRevision: 'no-stream' });
        const before = await sut().readStream(stream);
        const head = await sut().headPosition();
        const rejected = newEvents(3);

        const attempt = sut().append(stream, rejected, { expectedRevision });

        await expect(attempt).rejects.toBeInstanceOf(ConcurrencyError);
        await expect(attempt).rejects.toMatchObject({ code: 'concurrency', streamId: stream });
        expect(await sut().readStream(stream)).toEqual(before);
        expect(await sut().headPosition()).toBe(head);
        expect(await sut().readAll({ after: head })).toEqual([]);
        // None of the rejected ids was kept: appending them now is a first append.
        const retry = await sut().append(stream, rejected, { expectedRevision: 'any' });
        expect(retry.duplicate).toBe(false);
        expect(retry.events.map((e) => e.position)).toEqual(range(head + 1, 3));
      },
    );

    it('answers a repeated append of stored ids with the original result, whatever revision it expects', async () => {
      const stream = streamName('idempotent');
      const events = newEvents(2);
      const original = await sut().append(stream, events, { expectedRevision: 'no-stream' });
      await sut().append(stream, newEvents(2), { expectedRevision: 1 });
      const head = await sut().headPosition();

      for (const expectedRevision of ['any', 'no-stream', 0, 1, 'exists'] as ExpectedRevision[]) {
        const retry = await sut().append(stream, events, { expectedRevision });
        expect(retry).toEqual({ ...original, duplicate: true });
      }
      expect(await sut().headPosition()).toBe(head);
      expect(await sut().readStream(stream)).toHaveLength(4);
    });
  });

  describe('global order', () => {
    it('gives strictly increasing, gap-free positions across streams, in append order', async () => {
      const head = await sut().headPosition();
      const streams = [streamName('order'), streamName('order'), streamName('order')];
      const appended: string[] = [];
      for (let i = 0; i < 7; i++) {
        const events = newEvents(1 + (i % 2));
        await sut().append(streams[i % 3], events, { expectedRevision: 'any' });
        appended.push(...events.map((e) => e.id));
      }

      const all = await sut().readAll({ after: head });

      expect(all.map((e) => e.id)).toEqual(appended);
      expect(all.map((e) => e.position)).toEqual(range(head + 1, appended.length));
    });

    it('pages readAll with after, limit and until, and readStream with fromRevision and limit', async () => {
      const head = await sut().headPosition();
      const stream = streamName('paging');
      await sut().append(stream, newEvents(7), { expectedRevision: 'no-stream' });
      const all = await sut().readAll({ after: head });

      const pages = [];
      for (let after = head; ;) {
        const page = await sut().readAll({ after, limit: 3 });
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(3);
        pages.push(...page);
        after = page[page.length - 1].position;
      }
      expect(pages).toEqual(all);
      expect(await sut().readAll({ after: head + 2, until: head + 4 })).toEqual(all.slice(2, 4));
      expect(await sut().readAll({ after: head, until: head + 5, limit: 2 })).toEqual(
        all.slice(0, 2),
      );
      expect(await sut().readStream(stream, { fromRevision: 2, limit: 3 })).toEqual(
        all.slice(2, 5),
      );
    });
  });
}
