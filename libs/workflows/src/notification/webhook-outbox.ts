import { createTable, migrate, SqlClient, TableDefinition } from '@truceline/event-store';
import { randomUUID } from 'node:crypto';
import { NotificationSubject, PlannedDelivery } from './delivery-plan';

export const WEBHOOK_OUTBOX_COMPONENT = 'webhook-outbox';

/** Every planned delivery and how its attempts went; a worker claims due rows. */
const WEBHOOK_OUTBOX: TableDefinition = {
  name: 'webhook_outbox',
  columns: {
    delivery_id: 'uuid PRIMARY KEY',
    incident_id: 'uuid NOT NULL',
    partner: 'text NOT NULL',
    subject: 'text NOT NULL',
    tier: 'integer',
    ref: 'text NOT NULL',
    url: 'text NOT NULL',
    body: 'text NOT NULL',
    causation_id: 'uuid NOT NULL',
    correlation_id: 'text NOT NULL',
    attempts: 'integer NOT NULL DEFAULT 0',
    next_attempt_at: 'timestamptz NOT NULL DEFAULT now()',
    claim_token: 'uuid',
    last_error: 'text',
    created_at: 'timestamptz NOT NULL DEFAULT now()',
    delivered_at: 'timestamptz',
  },
};

const MIGRATIONS = [
  `${createTable(WEBHOOK_OUTBOX)};
   CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (next_attempt_at)
     WHERE delivered_at IS NULL;
   CREATE INDEX IF NOT EXISTS webhook_outbox_incident ON webhook_outbox (incident_id);`,
];

/** A row of the outbox: a planned delivery and how its attempts went. */
export interface OutboxDelivery extends PlannedDelivery {
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  deliveredAt: Date | null;
}

/** A delivery claimed by one worker: no other worker sends it until the claim lapses. */
export interface ClaimedDelivery extends OutboxDelivery {
  claimToken: string;
}

interface OutboxRow {
  delivery_id: string;
  incident_id: string;
  partner: string;
  subject: NotificationSubject;
  tier: number | null;
  ref: string;
  url: string;
  body: string;
  causation_id: string;
  correlation_id: string;
  attempts: number;
  next_attempt_at: Date | string;
  last_error: string | null;
  delivered_at: Date | string | null;
  claim_token: string | null;
}

const COLUMNS = `delivery_id, incident_id, partner, subject, tier, ref, url, body, causation_id,
  correlation_id, attempts, next_attempt_at, last_error, delivered_at, claim_token`;
const INSERTED_COLUMNS = 10;

/**
 * The webhook outbox: planned deliveries wait here until their partner answered 2xx. Rows are
 * never deleted, so the table is also the delivery log. Scheduling uses the database's clock
 * (`now()`), shared by every instance, and real time even in exercise mode: the exercise clock
 * stands still, but a partner's endpoint must still be retried.
 */
export class WebhookOutbox {
  constructor(private readonly sql: SqlClient) {}

  async migrate(): Promise<void> {
    await migrate(this.sql, WEBHOOK_OUTBOX_COMPONENT, MIGRATIONS);
  }

  /** Inserts the deliveries not planned before; returns how many were new. */
  async add(deliveries: readonly PlannedDelivery[]): Promise<number> {
    if (deliveries.length === 0) return 0;
    const params: unknown[] = [];
    const values = deliveries.map((d) => {
      params.push(
        d.deliveryId,
        d.incidentId,
        d.partner,
        d.subject,
        d.tier ?? null,
        d.ref,
        d.url,
        d.body,
        d.causationId,
        d.correlationId,
      );
      const first = params.length - INSERTED_COLUMNS + 1;
      return `(${Array.from({ length: INSERTED_COLUMNS }, (_, i) => `$${first + i}`).join(', ')})`;
    });
    const { rows } = await this.sql.query(
      `INSERT INTO webhook_outbox (delivery_id, incident_id, partner, subject, tier, ref, url, body,
         causation_id, correlation_id)
       VALUES ${values.join(', ')}
       ON CONFLICT (delivery_id) DO NOTHING
       RETURNING delivery_id`,
      params,
    );
    return rows.length;
  }

  /**
   * Claims up to `limit` due deliveries, skipping `busyPartners`, and pushes their next attempt
   * `leaseMs` ahead: while a worker sends, no other finds them due. FOR UPDATE SKIP LOCKED
   * inside the claiming transaction makes two instances that claim at once take different rows
   * instead of waiting for each other. The HTTP request runs after the commit, outside any
   * transaction: PGlite has a single connection, and a lock held across a slow partner would
   * stall the whole store. A worker that dies mid-send leaves the row to be claimed again when
   * the lease lapses (at-least-once delivery).
   */
  async claimDue(
    limit: number,
    leaseMs: number,
    busyPartners: readonly string[] = [],
  ): Promise<ClaimedDelivery[]> {
    if (limit <= 0) return [];
    const claimToken = randomUUID();
    const rows = await this.sql.transaction(async (tx) => {
      const { rows: due } = await tx.query<{ delivery_id: string }>(
        `SELECT delivery_id FROM webhook_outbox
         WHERE delivered_at IS NULL AND next_attempt_at <= now()
           AND NOT (partner = ANY($2::text[]))
         ORDER BY next_attempt_at
         LIMIT $1
         FOR UPDATE SKIP LOCKED`,
        [limit, busyPartners],
      );
      if (due.length === 0) return [];
      const { rows: claimed } = await tx.query<OutboxRow>(
        `UPDATE webhook_outbox
         SET next_attempt_at = now() + $2 * interval '1 millisecond', claim_token = $3
         WHERE delivery_id = ANY($1::uuid[])
         RETURNING ${COLUMNS}`,
        [due.map((r) => r.delivery_id), leaseMs, claimToken],
      );
      return claimed;
    });
    return rows.map((row) => ({ ...toDelivery(row), claimToken }));
  }

  /** The partner answered 2xx: the delivery is done, whoever holds the claim now. */
  async markDelivered(delivery: ClaimedDelivery, url: string): Promise<void> {
    await this.sql.query(
      `UPDATE webhook_outbox
       SET delivered_at = COALESCE(delivered_at, now()), attempts = attempts + 1, url = $2,
           last_error = NULL, claim_token = NULL
       WHERE delivery_id = $1`,
      [delivery.deliveryId, url],
    );
  }

  /**
   * The attempt failed: count it and schedule the next one after `retryInMs`. Ignored when the
   * claim was lost meanwhile (the lease lapsed and another worker owns the row now).
   */
  async markFailed(delivery: ClaimedDelivery, error: string, retryInMs: number): Promise<void> {
    await this.sql.query(
      `UPDATE webhook_outbox
       SET attempts = attempts + 1, last_error = $2, claim_token = NULL,
           next_attempt_at = now() + $3 * interval '1 millisecond'
       WHERE delivery_id = $1 AND claim_token = $4 AND delivered_at IS NULL`,
      [delivery.deliveryId, error.slice(0, 1000), retryInMs, delivery.claimToken],
    );
  }

  /** The outbox's rows, oldest first (operators, tests). */
  async list(filter: { incidentId?: string } = {}): Promise<OutboxDelivery[]> {
    const { rows } = await this.sql.query<OutboxRow>(
      `SELECT ${COLUMNS} FROM webhook_outbox
       WHERE ($1::uuid IS NULL OR incident_id = $1::uuid)
       ORDER BY created_at, delivery_id`,
      [filter.incidentId ?? null],
    );
    return rows.map(toDelivery);
  }

  /** Deliveries not yet acknowledged by their partner. */
  async pendingCount(): Promise<number> {
    const { rows } = await this.sql.query<{ count: string | number }>(
      'SELECT count(*) AS count FROM webhook_outbox WHERE delivered_at IS NULL',
    );
    return Number(rows[0].count);
  }
}

function toDelivery(row: OutboxRow): OutboxDelivery {
  return {
    deliveryId: row.delivery_id,
    incidentId: row.incident_id,
    partner: row.partner,
    subject: row.subject,
    ...(row.tier === null ? {} : { tier: row.tier }),
    ref: row.ref,
    url: row.url,
    body: row.body,
    causationId: row.causation_id,
    correlationId: row.correlation_id,
    attempts: row.attempts,
    nextAttemptAt: new Date(row.next_attempt_at),
    lastError: row.last_error,
    deliveredAt: row.delivered_at === null ? null : new Date(row.delivered_at),
  };
}
