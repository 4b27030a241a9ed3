import { migrate, SqlClient } from '@truceline/event-store';

/** A message set aside after its retries ran out or because it could never be read. */
export interface ParkedMessage {
  groupId: string;
  topic: string;
  partition: number;
  offset: string;
  eventId: string | null;
  error: string;
  payload: ParkedPayload;
  parkedAt: string;
}

/** The record as received, for an operator to inspect and re-drive. */
export interface ParkedPayload {
  key: string | null;
  headers: Record<string, string>;
  /** The value as UTF-8 text, or base64 when it is not valid UTF-8. */
  value: string | null;
  valueEncoding: 'utf8' | 'base64';
}

export async function migrateConsumerLedger(sql: SqlClient): Promise<void> {
  await migrate(sql, 'consumer', [
    `CREATE TABLE consumer_processed (
       group_id text NOT NULL,
       event_id text NOT NULL,
       processed_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (group_id, event_id)
     );
     CREATE TABLE parked_messages (
       group_id text NOT NULL,
       topic text NOT NULL,
       partition integer NOT NULL,
       "offset" bigint NOT NULL,
       event_id text,
       error text NOT NULL,
       payload jsonb NOT NULL,
       parked_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (group_id, topic, partition, "offset")
     );`,
  ]);
}

/**
 * What a consumer group has done, kept beside the effects in the database: the event ids it
 * handled (Kafka delivers at least once, so a redelivery is recognised and skipped) and the
 * messages it parked.
 */
export class ConsumerLedger {
  constructor(
    private readonly sql: SqlClient,
    readonly groupId: string,
  ) {}

  async isProcessed(eventId: string): Promise<boolean> {
    const { rows } = await this.sql.query(
      'SELECT 1 FROM consumer_processed WHERE group_id = $1 AND event_id = $2',
      [this.groupId, eventId],
    );
    return rows.length > 0;
  }

  async markProcessed(eventId: string): Promise<void> {
    await this.sql.query(
      `INSERT INTO consumer_processed (group_id, event_id) VALUES ($1, $2)
       ON CONFLICT DO NOTHING`,
      [this.groupId, eventId],
    );
  }

  /** Parks a message once: a redelivery of a parked offset does not add a second row. */
  async park(message: Omit<ParkedMessage, 'groupId' | 'parkedAt'>): Promise<void> {
    await this.sql.query(
      `INSERT INTO parked_messages (group_id, topic, partition, "offset", event_id, error, payload)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT DO NOTHING`,
      [
        this.groupId,
        message.topic,
        message.partition,
        message.offset,
        message.eventId,
        message.error,
        JSON.stringify(message.payload),
      ],
    );
  }

  async parked(): Promise<ParkedMessage[]> {
    const { rows } = await this.sql.query<{
      group_id: string;
      topic: string;
      partition: number;
      offset: string;
      event_id: string | null;
      error: string;
      payload: ParkedPayload | string;
      parked_at: Date | string;
    }>(
      `SELECT group_id, topic, partition, "offset"::text AS "offset", event_id, error, payload,
              parked_at
       FROM parked_messages WHERE group_id = $1 ORDER BY parked_at, topic, partition, "offset"`,
      [this.groupId],
    );
    return rows.map((row) => ({
      groupId: row.group_id,
      topic: row.topic,
      partition: row.partition,
      offset: row.offset,
      eventId: row.event_id,
      error: row.error,
      payload: typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload,
      parkedAt: new Date(row.parked_at).toISOString(),
    }));
  }

  async parkedCount(): Promise<number> {
    const { rows } = await this.sql.query<{ count: string | number }>(
      'SELECT count(*) AS count FROM parked_messages WHERE group_id = $1',
      [this.groupId],
    );
    return Number(rows[0]?.count ?? 0);
  }
}
