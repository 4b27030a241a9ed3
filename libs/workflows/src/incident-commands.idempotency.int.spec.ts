import { loadConfig } from '@truceline/config';
import { Actor, IncidentCommand, TrucelineError } from '@truceline/domain';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, EmbeddedRuntime } from './create-runtime';
import { purgeExpiredIdempotencyKeys } from './idempotency-keys';

/**
 * Idempotency-Key as the IETF draft has it (SPEC §6, §8), on the embedded store: keys expire
 * after the TTL and are purged, a duplicate while the first request is in flight gets 409, and
 * keys are compared exactly as sent.
 */
const OPERATOR: Actor = { id: 'operator-idem', role: 'operator' };
let sector = 0;
const report = (summary = 'shelling'): IncidentCommand =>
  ({
    type: 'ReportBreach',
    data: {
      location: { sector: `idem-${process.pid}-${++sector}`, frontlineKm: 10 },
      category: 'artillery',
      severity: 'major',
      source: { kind: 'sensor', id: 'sensor-1' },
      summary,
    },
  }) as IncidentCommand;

describe('Idempotency-Key on the command path', () => {
  let dir: string;
  let runtime: EmbeddedRuntime;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'truceline-idempotency-'));
    const config = loadConfig({
      TRUCELINE_DATA_DIR: dir,
      TRUCELINE_JWT_SECRET: 'idempotency-int-secret-of-32-characters',
      TRUCELINE_IDEMPOTENCY_TTL_HOURS: '2',
    });
    runtime = await createRuntime(config, {
      services: false,
      logger: { log: () => undefined, error: () => undefined },
    });
  }, 60_000);
  afterAll(async () => {
    await runtime?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const execute = (command: IncidentCommand, idempotencyKey: string) =>
    runtime.commands.execute(null, command, { actor: OPERATOR, idempotencyKey });
  const refusal = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return error as TrucelineError;
    }
    throw new Error('expected a refusal');
  };
  const keyRow = async (key: string) =>
    (
      await runtime.sql.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM idempotency_keys WHERE actor_id = $1 AND key = $2',
        [OPERATOR.id, key],
      )
    ).rows[0].n;
  const age = (key: string, column: 'created_at' | 'claimed_at', interval: string) =>
    runtime.sql.query(
      `UPDATE idempotency_keys SET ${column} = now() - interval '${interval}'
        WHERE actor_id = $1 AND key = $2`,
      [OPERATOR.id, key],
    );

  it('appends a report with its verification request, and answers a retry after a crash alike', async () => {
    const command = report();
    const first = await execute(command, 'crash-after-append');

    // The verification service's rule, decided with the report (no service runs here).
    const events = (await runtime.queries.events(first.incidentId)) ?? [];
    expect(
      events.map((e) => [
        e.type,
        e.revision,
        e.position,
        e.metadata.actor.id,
        e.metadata.causationId,
      ]),
    ).toEqual([
      ['BreachReported', 0, first.position - 1, OPERATOR.id, null],
      ['VerificationRequested', 1, first.position, 'verification-service', first.eventId],
    ]);
    expect(first).toMatchObject({ eventId: events[0].id, revision: 1 });

    // The process died after the append, before the key kept its answer: the retry takes the
    // key over, finds the report, and answers what the first request would have.
    await runtime.sql.query(
      `UPDATE idempotency_keys SET result = 'null'::jsonb, claimed_at = now() - interval '1 hour'
        WHERE actor_id = $1 AND key = $2`,
      [OPERATOR.id, 'crash-after-append'],
    );
    expect(await execute(command, 'crash-after-append')).toEqual(first);
    expect(await runtime.queries.events(first.incidentId)).toHaveLength(2);
  });

  it('compares keys exactly as sent: keys differing in case or spacing are different keys', async () => {
    const command = report();
    const results = await Promise.all(
      ['Key-A', 'key-a', 'Key-A '].map((key) => execute(command, key)),
    );

    expect(new Set(results.map((r) => r.incidentId)).size).toBe(3);
    expect(await execute(command, 'Key-A')).toEqual(results[0]);
  });

  it('answers 409 to a duplicate while the first request is in flight, and nothing is appended', async () => {
    const key = 'in-flight-1';
    const command = report();
    // The first request holds the key and has not answered yet (claimed, no result).
    const first = await execute(command, key);
    await runtime.sql.query(
      `UPDATE idempotency_keys SET result = 'null'::jsonb, claimed_at = now()
        WHERE actor_id = $1 AND key = $2`,
      [OPERATOR.id, key],
    );
    const head = (await runtime.store.readAll()).length;

    const error = await refusal(execute(command, key));

    expect(error.code).toBe('idempotency-in-flight');
    expect((await runtime.store.readAll()).length).toBe(head);
    // A holder silent past the lease crashed: the retry takes over and finds the first event.
    await age(key, 'claimed_at', '1 minute');
    expect(await execute(command, key)).toEqual(first);
    expect((await runtime.store.readAll()).length).toBe(head);
  });

  it('forgets a key after the TTL: the same key is then a new request', async () => {
    const key = 'expiring-1';
    const command = report('first');
    const first = await execute(command, key);
    await age(key, 'created_at', '1 hour 59 minutes');
    expect(await execute(command, key)).toEqual(first);

    await age(key, 'created_at', '2 hours 1 minute');
    const again = await execute(report('another report'), key);

    expect(again.incidentId).not.toBe(first.incidentId);
    expect(again.eventId).not.toBe(first.eventId);
  });

  it('purges expired keys, and only those', async () => {
    await execute(report(), 'to-purge');
    await execute(report(), 'to-keep');
    await age('to-purge', 'created_at', '2 hours 1 minute');

    await purgeExpiredIdempotencyKeys(runtime.sql, 2);

    expect(await keyRow('to-purge')).toBe(0);
    expect(await keyRow('to-keep')).toBe(1);
  });
});
