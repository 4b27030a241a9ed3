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

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    id: row.id,
    type: row.type,
    schemaVersion: row.schema_version,
    streamId: row.stream_id,
    revision: row.revision,
    position: Number(row.position),
    occurredAt: iso(row.occurred_at),
    recordedAt: iso(row.recorded_at),
    data: row.data,
    metadata: row.metadata,
  };
}
