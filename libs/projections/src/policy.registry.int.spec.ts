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
      const gated: EventStore = Object.assign(Object.create(store) as EventStore, {
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
});
