import { EventMetadata, StoredEvent } from '@truceline/domain';

/** The events table as rows: one column list for every statement, one mapping to the envelope. */
export const COLUMNS =
  'position, id, stream_id, revision, type, schema_version, occurred_at, recorded_at, data, metadata';

export interface EventRow {
  position: string | number;
  id: string;
  stream_id: string;
  revision: number;
  type: string;
  schema_version: number;
  occurred_at: Date | string;
  recorded_at: Date | string;
  data: unknown;
  metadata: EventMetadata;
}

// pg hands timestamptz columns over as Dates already: no second Date per value on a long read.
const iso = (value: Date | string): string =>
  (value instanceof Date ? value : new Date(value)).toISOString();

export const toStoredEvent = (row: EventRow): StoredEvent =>
  envelopeOf(row, iso(row.occurred_at), iso(row.recorded_at));

/** The envelope of a row of either shape, its timestamps already printed as ISO. */
function envelopeOf(
  row: Omit<EventRow, 'occurred_at' | 'recorded_at'>,
  occurredAt: string,
  recordedAt: string,
): StoredEvent {
  return {
    id: row.id,
    type: row.type,
    schemaVersion: row.schema_version,
    streamId: row.stream_id,
    revision: row.revision,
    position: Number(row.position),
    occurredAt,
    recordedAt,
    data: row.data,
    metadata: row.metadata,
  };
}

/**
 * A timestamp as toISOString prints it, printed by the server (years 1 to 9999), or else its
 * milliseconds since 1970 rounded down, as a Date parsed from the server's text keeps them.
 */
const isoText = (column: string): string =>
  `CASE WHEN ${column} >= '0001-01-01T00:00:00Z' AND ${column} < '10000-01-01T00:00:00Z'
     THEN to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
     ELSE floor(extract(epoch FROM ${column}) * 1000)::text END AS ${column}`;

/** COLUMNS with the timestamps as ISO text (see isoText): what a replay reads. */
export const REPLAY_COLUMNS = `position, id, stream_id, revision, type, schema_version,
  ${isoText('occurred_at')}, ${isoText('recorded_at')}, data, metadata`;

export interface ReplayRow extends Omit<EventRow, 'occurred_at' | 'recorded_at'> {
  occurred_at: string;
  recorded_at: string;
}

const isoOf = (text: string): string =>
  text.endsWith('Z') ? text : new Date(Number(text)).toISOString();

/** The envelope of a row read with REPLAY_COLUMNS: the same as toStoredEvent makes. */
export const replayEventOf = (row: ReplayRow): StoredEvent =>
  envelopeOf(row, isoOf(row.occurred_at), isoOf(row.recorded_at));
