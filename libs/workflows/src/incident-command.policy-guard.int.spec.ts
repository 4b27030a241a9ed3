import { randomUUID } from 'node:crypto';
import {
  ConcurrencyError,
  IncidentCommand,
  POLICY_STREAM,
  POLICY_V1,
  StoredEvent,
} from '@truceline/domain';
import { EventStore, openDatabase, SqlEventStore } from '@truceline/event-store';
import { IncidentViews, PolicyRegistry } from '@truceline/projections';
import { IncidentCommandHandler } from './incident-command.handler';
import { Clock } from './runtime.port';

const report = (sector: string): IncidentCommand =>
  ({
    type: 'ReportBreach',
    data: {
      location: { sector, frontlineKm: 10 },
      category: 'artillery',
      severity: 'major',
      source: { kind: 'sensor', id: 'sensor-1' },
      summary: 'shelling',
    },
  }) as IncidentCommand;

const clock: Clock = {
  mode: 'system',
  now: () => new Date(),
  advance: () => Promise.reject(new Error('not in exercise mode')),
};

/**
 * SPEC §3: a policy adopted through another process governs what this one appends next. A
 * command does not read the policy stream before deciding: its append is guarded by the
 * revision its process holds, and refused when an adoption was stored since.
 */
describe('the policy stream guarding a command', () => {
  it('decides again with a policy another process adopted, reading the stream only then', async () => {
    const sql = await openDatabase({ inMemory: true });
    const store = new SqlEventStore(sql);
    try {
      await store.init();
      // This process's store as PostgreSQL's is: other processes append to it too, and it
      // tells the registry nothing (no onCommitted), so the registry reads what it needs.
      let policyReads = 0;
      const shared: EventStore = Object.assign(Object.create(store) as EventStore, {
        onCommitted: undefined,
        readStream: (...args: Parameters<EventStore['readStream']>) => {
          if (args[0] === POLICY_STREAM) policyReads++;
          return store.readStream(...args);
        },
      });
      const policies = new PolicyRegistry(shared);
      await policies.load();
      const handler = new IncidentCommandHandler(shared, policies, clock, new IncidentViews(sql));
      const envelope = () => ({
        actor: { id: 'op', role: 'operator' as const },
        occurredAt: new Date().toISOString(),
        newIncident: true,
      });
      const versionsOf = (events: readonly StoredEvent[]) =>
        events.map((e) => e.metadata.policyVersion);

      const before = await handler.handle(randomUUID(), report('guard-1'), envelope());
      expect(versionsOf(before!.events)).toEqual([1, 1]);
      const readsBefore = policyReads;

      // Another process adopts version 2.
      const other = new PolicyRegistry(new SqlEventStore(sql));
      await other.load();
      const { version: _, ...document } = POLICY_V1;
      await other.adopt(
        { ...document, verificationQuorum: 3 },
        { actor: { id: 'op', role: 'operator' }, occurredAt: new Date().toISOString() },
      );

      const after = await handler.handle(randomUUID(), report('guard-2'), envelope());
      expect(versionsOf(after!.events)).toEqual([2, 2]);
      expect(policies.current().verificationQuorum).toBe(3);
      expect(policyReads - readsBefore).toBe(1);

      // Nothing adopted since: the next command reads no policy.
      const next = await handler.handle(randomUUID(), report('guard-3'), envelope());
      expect(versionsOf(next!.events)).toEqual([2, 2]);
      expect(policyReads - readsBefore).toBe(1);
    } finally {
      await store.close();
      await sql.close();
    }
  });

  it('refuses an append whose guard stream moved, writing nothing of it', async () => {
    const sql = await openDatabase({ inMemory: true });
    const store = new SqlEventStore(sql);
    try {
      await store.init();
      const event = (type: string) => ({
        id: randomUUID(),
        type,
        occurredAt: new Date().toISOString(),
        data: {},
        metadata: {
          correlationId: 'c',
          causationId: null,
          actor: { id: 'op', role: 'operator' as const },
          policyVersion: 1,
        },
      });
      await store.append('guard-stream', [event('Moved')], { expectedRevision: 'no-stream' });
      const refusal = await store
        .append('guarded', [event('Guarded')], {
          expectedRevision: 'no-stream',
          guard: { streamId: 'guard-stream', revision: -1 },
        })
        .catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(ConcurrencyError);
      expect(refusal).toMatchObject({ streamId: 'guard-stream', expected: -1, actual: 0 });
      expect(await store.streamRevision('guarded')).toBeNull();

      const appended = await store.append('guarded', [event('Guarded')], {
        expectedRevision: 'no-stream',
        guard: { streamId: 'guard-stream', revision: 0 },
      });
      expect(appended.nextExpectedRevision).toBe(0);
      // No stream at all is revision -1.
      await store.append('guarded-2', [event('Guarded')], {
        expectedRevision: 'no-stream',
        guard: { streamId: 'no-such-stream', revision: -1 },
      });
      expect(await store.streamRevision('guarded-2')).toBe(0);
    } finally {
      await store.close();
      await sql.close();
    }
  });
});
