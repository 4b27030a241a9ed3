import { POLICY_V1, StoredEvent } from '@truceline/domain';
import { EventStore, openDatabase, SqlEventStore } from '@truceline/event-store';
import { PolicyRegistry } from './policy.registry';

describe(PolicyRegistry.name, () => {
  it('shares reads among callers, each still seeing every adoption made before it called', async () => {
    const sql = await openDatabase({ inMemory: true });
    const store = new SqlEventStore(sql);
    try {
      await store.init();
      // Reads of the policy stream run at once, but their answers wait for the gate: a read
      // is in flight, having seen the stream as it was, while another process adopts.
      let reads = 0;
      let queried: Promise<StoredEvent[]> = Promise.resolve([]);
      let gate: Promise<void> = Promise.resolve();
      // A store other processes append to as well (PostgreSQL's): the registry must read.
      const gated: EventStore = Object.assign(Object.create(store) as EventStore, {
        onCommitted: undefined,
        readStream: async (...args: Parameters<EventStore['readStream']>) => {
          reads++;
          queried = store.readStream(...args);
          const events = await queried;
          await gate;
          return events;
        },
      });
      const registry = new PolicyRegistry(gated);
      await registry.load();
      const other = new PolicyRegistry(store);
      await other.load();
      const readsBefore = reads;

      let open!: () => void;
      gate = new Promise((resolve) => (open = resolve));
      const first = registry.refresh();
      await queried;
      const { version: _, ...document } = POLICY_V1;
      await other.adopt(
        { ...document, verificationQuorum: 3 },
        { actor: { id: 'op', role: 'operator' }, occurredAt: new Date().toISOString() },
      );
      const second = registry.refresh();
      const third = registry.refresh();
      open();
      await first;
      await Promise.all([second, third]);

      // The read in flight began before the adoption: the later callers got one more, shared.
      expect(reads - readsBefore).toBe(2);
      expect(registry.current().verificationQuorum).toBe(3);
    } finally {
      await store.close();
      await sql.close();
    }
  });

  it('reads the stream once on the embedded store, which tells it of every adoption committed', async () => {
    const sql = await openDatabase({ inMemory: true });
    const store = new SqlEventStore(sql);
    try {
      await store.init();
      let reads = 0;
      const counted: EventStore = Object.assign(Object.create(store) as EventStore, {
        readStream: (...args: Parameters<EventStore['readStream']>) => {
          reads++;
          return store.readStream(...args);
        },
      });
      const registry = new PolicyRegistry(counted);
      await registry.load();
      const readsAfterLoad = reads;
      // Another writer of this process's database: its adoption is told as it commits.
      const other = new PolicyRegistry(store);
      await other.load();
      const { version: _, ...document } = POLICY_V1;
      await other.adopt(
        { ...document, verificationQuorum: 3 },
        { actor: { id: 'op', role: 'operator' }, occurredAt: new Date().toISOString() },
      );

      await Promise.all([registry.refresh(), registry.refresh()]);

      expect(registry.current().verificationQuorum).toBe(3);
      expect((await registry.list()).map((adopted) => adopted.version)).toEqual([1, 2]);
      expect(readsAfterLoad).toBe(1);
      expect(reads).toBe(1);
    } finally {
      await store.close();
      await sql.close();
    }
  });
});
