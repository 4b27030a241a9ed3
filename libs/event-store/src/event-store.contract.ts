import { appendContract } from './contract/append.contract';
import { ContractContext, EventStoreFixture } from './contract/contract-kit';
import { concurrencyContract } from './contract/concurrency.contract';
import { subscriptionContract } from './contract/subscription.contract';
import { EventStore } from './event-store.port';

export type { EventStoreFixture } from './contract/contract-kit';

/**
 * The behaviour every EventStore adapter must show (SPEC §4: idempotent ids, revisions, global
 * positions strictly increasing in commit order), run against real engines, never mocks.
 * One fixture serves the whole suite: every test writes to streams of its own and asserts on
 * positions relative to the head it found, so tests stay independent without paying an engine
 * start per test.
 */
export function runEventStoreContract(
  name: string,
  factory: () => Promise<EventStoreFixture>,
): void {
  describe(`EventStore contract: ${name}`, () => {
    let fixture: EventStoreFixture;
    let store: EventStore;

    beforeAll(async () => {
      fixture = await factory();
      store = fixture.store;
      await store.init();
      await store.init(); // migrations are idempotent: a second start changes nothing
    });

    afterAll(async () => {
      await fixture?.cleanup();
    });

    const context: ContractContext = {
      sut: () => store,
      fixture: () => fixture,
      restart: async () => {
        if (fixture.reopen) {
          store = await fixture.reopen();
          await store.init();
        }
        return store;
      },
    };

    appendContract(context);
    concurrencyContract(context);
    subscriptionContract(context);
  });
}
