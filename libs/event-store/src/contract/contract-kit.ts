import { randomUUID } from 'node:crypto';
import { NewEvent } from '@truceline/domain';
import { EventStore } from '../event-store.port';

/** What an adapter hands the contract suite. */
export interface EventStoreFixture {
  store: EventStore;
  /**
   * Closes the store and opens a new one over the same durable data, as a process restart
   * would (PGlite: the same data dir; PostgreSQL: a new pool on the same database).
   * Without it the durability test reuses the same store instance.
   */
  reopen?(): Promise<EventStore>;
  /**
   * True when reads run while a write transaction is open (PostgreSQL, several connections);
   * false when the engine queues them behind it (PGlite, a single connection).
   */
  readsDuringWrites?: boolean;
  cleanup(): Promise<void>;
}

/** Shared by the contract's parts: the store under test changes when the suite restarts it. */
export interface ContractContext {
  sut(): EventStore;
  fixture(): EventStoreFixture;
  restart(): Promise<EventStore>;
}

export const streamName = (label: string): string => `contract-${label}-${randomUUID()}`;

export const newEvent = (
  data: Record<string, unknown> = {},
  type = 'ContractTested',
): NewEvent => ({
  id: randomUUID(),
  type,
  occurredAt: '2026-03-02T04:00:00.000Z',
  data,
  metadata: {
    correlationId: randomUUID(),
    causationId: null,
    actor: { id: 'contract-suite', role: 'service' },
    policyVersion: 1,
  },
});

export const newEvents = (count: number): NewEvent[] =>
  Array.from({ length: count }, (_, i) => newEvent({ n: i }));

/** [from, from + 1, …] with `count` numbers. */
export const range = (from: number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => from + i);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A promise whose outcome can be inspected synchronously: "has it finished yet?". */
export interface Tracked<T> {
  promise: Promise<T>;
  readonly settled: boolean;
  readonly value: T | undefined;
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  const state = { settled: false, value: undefined as T | undefined };
  const tracked = promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
      return value;
    },
    (error: unknown) => {
      state.settled = true;
      throw error;
    },
  );
  return {
    promise: tracked,
    get settled() {
      return state.settled;
    },
    get value() {
      return state.value;
    },
  };
}

/** The outcome of a promise as data, so a test can assert on all outcomes after they settle. */
export async function outcome<T>(
  promise: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}
