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

/** toISOString's form, as read with QueryOptions.isoTimestamps: given as it is. */
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

// pg hands timestamptz columns over as Dates, or as ISO text already (isoTimestamps): no second
// Date per value on a long read.
const iso = (value: Date | string): string =>
  typeof value === 'string' && ISO.test(value)
    ? value
    : (value instanceof Date ? value : new Date(value)).toISOString();

export const toStoredEvent = (row: EventRow): StoredEvent =>
  envelopeOf(row, iso(row.occurred_at), iso(row.recorded_at));

/** A row's columns but its timestamps, its data and metadata of whatever form it was read in. */
type RowOf<D, M> = Omit<EventRow, 'occurred_at' | 'recorded_at' | 'data' | 'metadata'> & {
  data: D;
  metadata: M;
};

/**
 * The envelope of a row, its timestamps already printed as ISO (REPLAY_COLUMNS keeps its keys'
 * order), its data and metadata as they were read (parsed, or JSON text).
 */
function envelopeOf<D, M>(
  row: RowOf<D, M>,
  occurredAt: string,
  recordedAt: string,
): Omit<StoredEvent, 'data' | 'metadata'> & { data: D; metadata: M } {
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
 * COLUMNS with data and metadata as the JSON text the server prints for them (what pg would
 * JSON.parse), for a reader that parses one event at a time (the log's sealer): a page of 500
 * events parsed at once stays alive, as object trees, until the page is done.
 */
export const JSON_TEXT_COLUMNS =
  'position, id, stream_id, revision, type, schema_version, occurred_at, recorded_at, ' +
  'data::text AS data, metadata::text AS metadata';

/** A stored event with its data and metadata still JSON text (JSON_TEXT_COLUMNS). */
export interface StoredEventJsonText extends Omit<StoredEvent, 'data' | 'metadata'> {
  data: string;
  metadata: string;
}

export const toStoredEventJsonText = (
  row: RowOf<string, string> & Pick<EventRow, 'occurred_at' | 'recorded_at'>,
): StoredEventJsonText => envelopeOf(row, iso(row.occurred_at), iso(row.recorded_at));

/**
 * A timestamp as JSON: in years 1 to 9999 the server's ISO 8601 text of it in UTC (to_json
 * prints ISO whatever the session's DateStyle, without the zone for a timestamp in UTC), else its
 * milliseconds since 1970 rounded down as a number, as a Date parsed from the server's text
 * keeps them.
 */
const isoJson = (column: string): string =>
  `CASE WHEN ${column} >= '0001-01-01T00:00:00Z' AND ${column} < '10000-01-01T00:00:00Z'
     THEN to_json(${column} AT TIME ZONE 'UTC')
     ELSE to_json(floor(extract(epoch FROM ${column}) * 1000)) END`;

/**
 * What a replay reads: the position, and the whole envelope as one JSON text printed by the
 * server, keys in the order envelopeOf gives them. One JSON.parse in Node then makes the event:
 * decoding a row of ten columns (a string cut out of the buffer and a parser per column, the
 * envelope built from them) cost a replay more than the server spends printing one text.
 */
export const REPLAY_COLUMNS = `position, concat('{"id":"', id, '","type":', to_json(type),
  ',"schemaVersion":', schema_version, ',"streamId":', to_json(stream_id),
  ',"revision":', revision, ',"position":', position,
  ',"occurredAt":', ${isoJson('occurred_at')}, ',"recordedAt":', ${isoJson('recorded_at')},
  ',"data":', data, ',"metadata":', metadata, '}') AS event`;

export interface ReplayRow {
  position: string | number;
  /** The envelope as REPLAY_COLUMNS prints it. */
  event: string;
}

/**
 * toISOString of a timestamp printed as isoJson prints it: "YYYY-MM-DDTHH:MM:SS" with up to six
 * digits of fraction (cut to milliseconds, as a Date parsed from the server's text keeps them),
 * or milliseconds since 1970.
 */
function isoOf(printed: string | number): string {
  if (typeof printed === 'number') return new Date(printed).toISOString();
  if (printed.length === 19) return `${printed}.000Z`;
  return `${`${printed}000`.slice(0, 23)}Z`;
}

/** The envelope of a row read with REPLAY_COLUMNS: the same as toStoredEvent makes. */
export function replayEventOf(row: ReplayRow): StoredEvent {
  const event = JSON.parse(row.event) as Omit<StoredEvent, 'occurredAt' | 'recordedAt'> & {
    occurredAt: string | number;
    recordedAt: string | number;
  };
  event.occurredAt = isoOf(event.occurredAt);
  event.recordedAt = isoOf(event.recordedAt);
  return event as StoredEvent;
}
