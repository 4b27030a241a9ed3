import { InProcessSystem, startInProcessSystem } from './in-process-system';
import { OpenApiDocument } from './openapi';
import { STORES, StoreLocation, StoreUnderTest, TrucelineApi } from './truceline-api';

/** Where the exercise clock of a suite's system starts. */
export const SUITE_CLOCK_START = '2026-03-01T00:00:00.000Z';

/** One store's running system, as a suite's tests see it once its beforeAll has run. */
export interface StoreSuite {
  readonly store: StoreUnderTest;
  readonly system: InProcessSystem;
  /** A client of the system's HTTP API. */
  readonly api: TrucelineApi;
  /** The head of the log once the services have reacted to everything before. */
  settledHead(): Promise<number>;
  /** The OpenAPI document the running app serves at /docs-json. */
  openApi(): Promise<OpenApiDocument>;
}

/**
 * A suite run once on each store (SPEC §8: the embedded store, or DATABASE_URL): a fresh,
 * empty location, the whole app in-process on it in exercise mode (clock at
 * SUITE_CLOCK_START), closed and dropped after the suite. `define` declares the suite's tests
 * (and beforeAll hooks of its own, which run after the system is up); `title` takes the
 * store's name for its `%s`.
 */
export function describeOnEachStore(title: string, define: (suite: StoreSuite) => void): void {
  describe.each(STORES.map((store): [string, StoreUnderTest] => [store.name, store]))(
    title,
    (_name, store) => {
      let location: StoreLocation | undefined;
      let running: { system: InProcessSystem; api: TrucelineApi } | undefined;
      const started = () => {
        if (!running) throw new Error(`the system on ${store.name} did not start`);
        return running;
      };
      const suite: StoreSuite = {
        store,
        get system() {
          return started().system;
        },
        get api() {
          return started().api;
        },
        settledHead: async () => {
          const { runtime } = started().system;
          await runtime.settle();
          return runtime.store.headPosition();
        },
        openApi: async () => {
          const response = await fetch(`${started().system.baseUrl}/docs-json`);
          return (await response.json()) as OpenApiDocument;
        },
      };

      beforeAll(async () => {
        location = await store.create();
        const system = await startInProcessSystem({
          databaseUrl: location.databaseUrl,
          dataDir: location.dataDir,
          clockStart: SUITE_CLOCK_START,
        });
        running = { system, api: new TrucelineApi(system.baseUrl, system.jwtSecret) };
      }, 60_000);
      afterAll(async () => {
        await running?.system.close();
        await location?.drop();
      });

      define(suite);
    },
  );
}
