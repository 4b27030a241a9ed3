/** Migration steps of the 'event-store' component (append-only: add steps, never edit one). */
export const EVENT_STORE_COMPONENT = 'event-store';

export const EVENT_STORE_MIGRATIONS: string[] = [
  `
  CREATE TABLE events (
    position bigint PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    stream_id text NOT NULL,
    revision integer NOT NULL,
    type text NOT NULL,
    schema_version integer NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    data jsonb NOT NULL,
    metadata jsonb NOT NULL,
    UNIQUE (stream_id, revision)
  );

  -- Last revision of every stream: the expected-revision check reads one row, not the events.
  CREATE TABLE streams (
    stream_id text PRIMARY KEY,
    revision integer NOT NULL
  );

  CREATE TABLE checkpoints (
    subscriber_id text PRIMARY KEY,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL
  );

  -- The single row that hands out global positions. Every append updates it first, so its row
  -- lock is held until COMMIT: writers are serialized and positions increase in commit order.
  CREATE TABLE log_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position bigint NOT NULL
  );
  INSERT INTO log_head (singleton, position) VALUES (true, 0);
  `,
];
