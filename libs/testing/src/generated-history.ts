import { randomUUID } from 'node:crypto';
import { incidentStreamId, NewEvent } from '@truceline/domain';
import { SqlClient } from '@truceline/event-store';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 2);

const envelope = (type: string, data: unknown, at: number): NewEvent => ({
  id: randomUUID(),
  type,
  occurredAt: new Date(T0 + at * HOUR).toISOString(),
  data,
  metadata: {
    correlationId: 'generated',
    causationId: null,
    actor: { id: 'op', role: 'operator' },
    policyVersion: 1,
  },
});

/**
 * Ten events of one incident through tier 2 (findings, confirmation by quorum, warning,
 * persistence, a task and its answer, a receipt): a history for the projections to fold.
 */
export function incidentHistory(n: number): NewEvent[] {
  const at = n % 500;
  const due = (hours: number) => new Date(T0 + (at + hours) * HOUR).toISOString();
  return [
    envelope(
      'BreachReported',
      {
        location: { sector: `sector-${n % 7}`, frontlineKm: n % 1400 },
        category: 'artillery',
        severity: 'major',
        source: { kind: 'sensor', id: `array-${n}` },
        summary: `generated breach ${n}`,
      },
      at,
    ),
    envelope('VerificationRequested', { verifiers: ['UA', 'US'], dueAt: due(6) }, at),
    envelope(
      'VerificationFindingSubmitted',
      { verifier: 'US', finding: 'confirmed', evidence: [] },
      at + 1,
    ),
    envelope(
      'VerificationFindingSubmitted',
      { verifier: 'UA', finding: 'confirmed', evidence: [] },
      at + 1,
    ),
    envelope('BreachConfirmed', { basis: 'quorum' }, at + 1),
    envelope('WarningIssued', { channel: 'c', recipient: 'RU', reference: `w-${n}` }, at + 3),
    envelope('HostilitiesPersisted', { observation: 'o' }, at + 4),
    envelope(
      'CoalitionTaskAssigned',
      { taskId: `t-${n}`, member: 'GB', capability: 'land', dueAt: due(16), tier: 2 },
      at + 4,
    ),
    envelope('CoalitionTaskAcknowledged', { taskId: `t-${n}` }, at + 5),
    envelope('NoticeAcknowledged', { partner: 'PL', eventId: randomUUID() }, at + 6),
  ];
}

/**
 * Writes `incidents` generated histories straight into the events table, several incidents'
 * events interleaved as concurrent commands would leave them, in chunks of one statement:
 * a large log in seconds, for rebuild tests and benchmarks (the append path is measured
 * elsewhere). Returns the head position.
 */
export async function insertGeneratedHistory(
  sql: SqlClient,
  incidents: number,
  { interleave = 50, chunk = 5_000 } = {},
): Promise<number> {
  const { rows } = await sql.query<{ head: string | number | null }>(
    'SELECT max(position) AS head FROM events',
  );
  let position = Number(rows[0].head ?? 0);
  const recordedAt = new Date(T0).toISOString();
  let pending: Record<string, unknown>[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    await sql.query(
      `INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at,
                           recorded_at, data, metadata)
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(position bigint, id uuid, stream_id text,
         revision int, type text, schema_version int, occurred_at timestamptz,
         recorded_at timestamptz, data jsonb, metadata jsonb)`,
      [JSON.stringify(pending)],
    );
    pending = [];
  };
  for (let first = 0; first < incidents; first += interleave) {
    const group = Array.from({ length: Math.min(interleave, incidents - first) }, (_, i) => ({
      streamId: incidentStreamId(randomUUID()),
      events: incidentHistory(first + i),
    }));
    for (let revision = 0; revision < 10; revision++) {
      for (const { streamId, events } of group) {
        const event = events[revision];
        pending.push({
          position: ++position,
          id: event.id,
          stream_id: streamId,
          revision,
          type: event.type,
          schema_version: 1,
          occurred_at: event.occurredAt,
          recorded_at: recordedAt,
          data: event.data,
          metadata: event.metadata,
        });
        if (pending.length >= chunk) await flush();
      }
    }
  }
  await flush();
  await sql.query(`SELECT setval('event_positions', $1)`, [position]);
  return position;
}
