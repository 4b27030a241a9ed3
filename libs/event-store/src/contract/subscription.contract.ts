import { randomUUID } from 'node:crypto';
import { StoredEvent } from '@truceline/domain';
import {
  ContractContext,
  deferred,
  newEvents,
  range,
  sleep,
  streamName,
  track,
} from './contract-kit';

/** Catch-up subscriptions: order, durable checkpoints, retries, wake-ups, orderly stop. */
export function subscriptionContract({ sut, restart }: ContractContext): void {
  describe('catch-up subscription', () => {
    const subscriberId = () => `contract-${randomUUID()}`;

    it('keeps a durable checkpoint per subscriber', async () => {
      const id = subscriberId();
      expect(await sut().readCheckpoint(id)).toBe(0);
      await sut().writeCheckpoint(id, 5);
      await sut().writeCheckpoint(id, 7);
      expect(await sut().readCheckpoint(id)).toBe(7);
    });

    it('delivers the whole log in order, then resumes after its checkpoint across a restart', async () => {
      const id = subscriberId();
      const stream = streamName('resume');
      const before = await sut().append(stream, newEvents(3), { expectedRevision: 'no-stream' });
      const firstRun: StoredEvent[] = [];
      let subscription = await sut().subscribe(async (e) => void firstRun.push(e), {
        subscriberId: id,
        batchSize: 2,
        pollIntervalMs: 50,
      });
      await subscription.waitFor(before.position);
      await subscription.stop();

      // Caught up from the start of the log: every position once, in order, none skipped.
      expect(firstRun.map((e) => e.position)).toEqual(range(1, before.position));
      expect(subscription.checkpoint()).toBe(before.position);
      const later = await sut().append(stream, newEvents(2), { expectedRevision: 2 });
      const store = await restart();
      expect(await store.readCheckpoint(id)).toBe(before.position);

      const secondRun: StoredEvent[] = [];
      subscription = await store.subscribe(async (e) => void secondRun.push(e), {
        subscriberId: id,
        pollIntervalMs: 50,
      });
      await subscription.waitFor(later.position);
      await subscription.stop();

      // Nothing lost while it was down, nothing it had checkpointed delivered again.
      expect(secondRun).toEqual(later.events);
    });

    it('retries an event whose handler threw, without skipping it', async () => {
      const id = subscriberId();
      await sut().writeCheckpoint(id, await sut().headPosition());
      const appended = await sut().append(streamName('retry'), newEvents(3), {
        expectedRevision: 'no-stream',
      });
      const failOn = appended.events[1].id;
      const handled: string[] = [];
      const errors: [string, string][] = [];
      let failures = 0;
      const subscription = await sut().subscribe(
        async (e) => {
          if (e.id === failOn && failures++ === 0) throw new Error('transient failure');
          handled.push(e.id);
        },
        {
          subscriberId: id,
          pollIntervalMs: 50,
          onError: (error, e) => errors.push([(error as Error).message, e.id]),
        },
      );
      await subscription.waitFor(appended.position);
      await subscription.stop();

      expect(errors).toEqual([['transient failure', failOn]]);
      expect(handled).toEqual(appended.events.map((e) => e.id));
      expect(await sut().readCheckpoint(id)).toBe(appended.position);
    });

    it('hands a batch handler whole pages in order, retrying a failed page as a whole', async () => {
      const id = subscriberId();
      await sut().writeCheckpoint(id, await sut().headPosition());
      const appended = await sut().append(streamName('pages'), newEvents(5), {
        expectedRevision: 'no-stream',
      });
      const pages: number[][] = [];
      let failures = 0;
      const subscription = await sut().subscribe(
        {
          batch: async (events) => {
            if (failures++ === 0) throw new Error('transient failure');
            pages.push(events.map((e) => e.position));
          },
        },
        { subscriberId: id, batchSize: 2, pollIntervalMs: 50, onError: () => undefined },
      );
      await subscription.waitFor(appended.position);
      await subscription.stop();

      expect(pages.flat()).toEqual(appended.events.map((e) => e.position));
      expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
      expect(await sut().readCheckpoint(id)).toBe(appended.position);
    });

    it('lets a subscriber whose handler keeps failing hold up neither the others nor their checkpoints', async () => {
      const [stuckId, healthyId] = [subscriberId(), subscriberId()];
      const head = await sut().headPosition();
      await sut().writeCheckpoint(stuckId, head);
      await sut().writeCheckpoint(healthyId, head);
      const appended = await sut().append(streamName('stuck'), newEvents(4), {
        expectedRevision: 'no-stream',
      });
      let failing = true;
      const stuckSaw: number[] = [];
      const healthySaw: number[] = [];
      const stuck = await sut().subscribe(
        async (e) => {
          if (failing) throw new Error('down');
          stuckSaw.push(e.position);
        },
        { subscriberId: stuckId, pollIntervalMs: 50, onError: () => undefined },
      );
      const healthy = await sut().subscribe(async (e) => void healthySaw.push(e.position), {
        subscriberId: healthyId,
        pollIntervalMs: 50,
      });
      try {
        await healthy.waitFor(appended.position, 5_000);
        await healthy.stop();
        expect(healthySaw).toEqual(appended.events.map((e) => e.position));
        expect(await sut().readCheckpoint(healthyId)).toBe(appended.position);
        // The stuck one has been retrying its first event all along: nothing skipped, nothing
        // checkpointed past it.
        expect(stuckSaw).toEqual([]);
        expect(await sut().readCheckpoint(stuckId)).toBe(head);

        failing = false;
        await stuck.waitFor(appended.position, 5_000);
        expect(stuckSaw).toEqual(appended.events.map((e) => e.position));
      } finally {
        await stuck.stop();
        await healthy.stop();
      }
      expect(await sut().readCheckpoint(stuckId)).toBe(appended.position);
    });

    it('is woken by an append at once, without waiting for its next poll', async () => {
      const id = subscriberId();
      await sut().writeCheckpoint(id, await sut().headPosition());
      const handled: string[] = [];
      const subscription = await sut().subscribe(async (e) => void handled.push(e.id), {
        subscriberId: id,
        pollIntervalMs: 60_000,
      });
      try {
        await sleep(100); // let it reach its idle wait
        const appended = await sut().append(streamName('wake'), newEvents(1), {
          expectedRevision: 'no-stream',
        });
        await subscription.waitFor(appended.position, 5_000);
        expect(handled).toEqual([appended.events[0].id]);
        await expect(subscription.waitFor(appended.position + 1_000, 100)).rejects.toThrow(
          /did not reach/,
        );
      } finally {
        await subscription.stop();
      }
    });

    it('stops only after the event being handled is finished and checkpointed', async () => {
      const id = subscriberId();
      await sut().writeCheckpoint(id, await sut().headPosition());
      const appended = await sut().append(streamName('stop'), newEvents(2), {
        expectedRevision: 'no-stream',
      });
      const handling = deferred();
      const finish = deferred();
      const handled: string[] = [];
      const subscription = await sut().subscribe(
        async (e) => {
          handling.resolve();
          await finish.promise;
          handled.push(e.id);
        },
        { subscriberId: id, pollIntervalMs: 50 },
      );
      await handling.promise;

      const stopping = track(subscription.stop());
      await sleep(100);
      const stoppedEarly = stopping.settled;
      finish.resolve();
      await stopping.promise;

      expect(stoppedEarly).toBe(false);
      expect(handled).toEqual([appended.events[0].id]);
      expect(await sut().readCheckpoint(id)).toBe(appended.events[0].position);
    });
  });
}
