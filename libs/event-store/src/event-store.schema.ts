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
  `
  -- Concurrent appends. Positions now come from a sequence, taken under a lock held only for the
  -- few microseconds of taking them (not until COMMIT), together with the appending
  -- transaction's id: among appends, transaction id order is position order. Readers take only
  -- rows whose transaction id is below every transaction still in flight, so the rows they see
  -- are always a gap-free prefix of what will ever commit (see SqlEventStore).
  CREATE SEQUENCE event_positions AS bigint;
  SELECT setval('event_positions', greatest(position, 1), position > 0) FROM log_head;
  DROP TABLE log_head;

  -- Rows stored before this step belong to long-finished transactions: 0 is below every horizon.
  ALTER TABLE events ADD COLUMN transaction_id xid8 NOT NULL DEFAULT '0';
  ALTER TABLE events ALTER COLUMN transaction_id SET DEFAULT pg_current_xact_id();

  -- One append in one round trip: idempotent retry, expected revision, positions, rows.
  CREATE FUNCTION truceline_append(
    p_stream_id text,
    p_expected text,
    p_events jsonb,
    p_recorded_at timestamptz,
    p_schema_version integer
  ) RETURNS TABLE (
    outcome text,
    stream_revision integer,
    "position" bigint,
    id uuid,
    stream_id text,
    revision integer,
    type text,
    schema_version integer,
    occurred_at timestamptz,
    recorded_at timestamptz,
    data jsonb,
    metadata jsonb
  ) LANGUAGE plpgsql AS $append$
  #variable_conflict use_column
  DECLARE
    n integer := jsonb_array_length(p_events);
    current_revision integer;
    last_position bigint;
  BEGIN
    -- Appends to one stream queue here until COMMIT (a stream's revision order is its position
    -- order); appends to other streams go on. An advisory lock, not a row lock: taking it gives
    -- the transaction no id yet (see below).
    PERFORM pg_advisory_xact_lock(1953853540, hashtext(p_stream_id));

    -- A retried append is answered with what is stored, before any revision check.
    RETURN QUERY
      SELECT 'stored', NULL::integer, e.position, e.id, e.stream_id, e.revision, e.type,
             e.schema_version, e.occurred_at, e.recorded_at, e.data, e.metadata
      FROM events e
      WHERE e.id IN (SELECT (x->>'id')::uuid FROM jsonb_array_elements(p_events) x)
      ORDER BY e.position;
    IF FOUND THEN RETURN; END IF;

    SELECT s.revision INTO current_revision FROM streams s WHERE s.stream_id = p_stream_id;
    IF NOT (p_expected = 'any'
            OR (p_expected = 'no-stream' AND current_revision IS NULL)
            OR (p_expected = 'exists' AND current_revision IS NOT NULL)
            OR p_expected = coalesce(current_revision::text, 'no-stream')) THEN
      RETURN QUERY SELECT 'conflict', current_revision, NULL::bigint, NULL::uuid, NULL::text,
        NULL::integer, NULL::text, NULL::integer, NULL::timestamptz, NULL::timestamptz,
        NULL::jsonb, NULL::jsonb;
      RETURN;
    END IF;

    -- The transaction's id and its positions are taken together under one lock, released at
    -- once: of two appends, the one with the lower transaction id holds the lower positions.
    -- Nothing above wrote, so the transaction has no id before this point.
    PERFORM pg_advisory_lock(1953853541, 0);
    BEGIN
      PERFORM pg_current_xact_id();
      SELECT max(nextval('event_positions')) INTO last_position FROM generate_series(1, n);
    EXCEPTION WHEN OTHERS OR QUERY_CANCELED THEN
      -- A session lock outlives the transaction: never leave it behind.
      PERFORM pg_advisory_unlock(1953853541, 0);
      RAISE;
    END;
    PERFORM pg_advisory_unlock(1953853541, 0);

    INSERT INTO streams AS s (stream_id, revision)
      VALUES (p_stream_id, coalesce(current_revision, -1) + n)
      ON CONFLICT (stream_id) DO UPDATE SET revision = EXCLUDED.revision;
    INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at,
                        recorded_at, data, metadata, transaction_id)
      SELECT last_position - n + x.ord, (x.e->>'id')::uuid, p_stream_id,
             coalesce(current_revision, -1) + x.ord::integer, x.e->>'type', p_schema_version,
             (x.e->>'occurredAt')::timestamptz, p_recorded_at, x.e->'data', x.e->'metadata',
             pg_current_xact_id()
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, ord);

    RETURN QUERY SELECT 'appended', coalesce(current_revision, -1) + 1, last_position,
      NULL::uuid, NULL::text, NULL::integer, NULL::text, NULL::integer, NULL::timestamptz,
      NULL::timestamptz, NULL::jsonb, NULL::jsonb;
  END
  $append$;
  `,
  `
  -- Appends grouped: the appends one process has waiting go to the server as one statement and
  -- one transaction, each with its own stream, expected revision and outcome; a lone append is a
  -- group of one. The rules are truceline_append's, applied once for the group: one global lock,
  -- one commit. Stream locks are taken in ascending key order, so two groups never wait on each
  -- other crosswise. Outcomes, rows per append (append_index, 1-based): the stored rows of an
  -- append whose ids are stored already (a retry, 'stored'), one 'conflict' row, or one
  -- 'appended' row with the last position it took.
  DROP FUNCTION truceline_append(text, text, jsonb, timestamptz, integer);

  CREATE FUNCTION truceline_append_group(
    p_streams text[],
    p_expected text[],
    p_recorded_at timestamptz[],
    p_events jsonb,
    p_schema_version integer
  ) RETURNS TABLE (
    append_index integer,
    outcome text,
    stream_revision integer,
    "position" bigint,
    id uuid,
    stream_id text,
    revision integer,
    type text,
    schema_version integer,
    occurred_at timestamptz,
    recorded_at timestamptz,
    data jsonb,
    metadata jsonb
  ) LANGUAGE plpgsql AS $append$
  #variable_conflict use_column
  DECLARE
    g integer := cardinality(p_streams);
    revisions integer[];
    counts integer[];
    ids uuid[];
    owners bigint[];
    stored integer[] := '{}';
    accepted boolean[] := array_fill(false, ARRAY[g]);
    total integer := 0;
    last_position bigint;
    xact xid8;
    i integer;
  BEGIN
    -- Appends to one stream queue here until COMMIT (a stream's revision order is its position
    -- order); appends to other streams go on. An advisory lock, not a row lock: taking it gives
    -- the transaction no id yet (see below).
    IF g = 1 THEN
      PERFORM pg_advisory_xact_lock(1953853540, hashtext(p_streams[1]));
    ELSE
      PERFORM pg_advisory_xact_lock(1953853540, k)
        FROM (SELECT DISTINCT hashtext(s) AS k FROM unnest(p_streams) s ORDER BY 1) keys;
    END IF;

    -- Every lookup below goes by index, one probe per id or stream, whatever the group's size:
    -- joins against the json would leave the planner guessing their sizes (and scanning).
    SELECT array_agg((x.e->>'id')::uuid ORDER BY a.i, x.ord), array_agg(a.i ORDER BY a.i, x.ord)
      INTO ids, owners
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS a(evs, i),
           jsonb_array_elements(a.evs) WITH ORDINALITY AS x(e, ord);
    counts := ARRAY(
      SELECT jsonb_array_length(a.evs)
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS a(evs, i) ORDER BY a.i);

    -- Retried appends are answered with what is stored, before any revision check.
    IF EXISTS (SELECT 1 FROM events e WHERE e.id = ANY (ids)) THEN
      RETURN QUERY
        SELECT owners[array_position(ids, e.id)]::integer, 'stored', NULL::integer, e.position,
               e.id, e.stream_id, e.revision, e.type, e.schema_version, e.occurred_at,
               e.recorded_at, e.data, e.metadata
        FROM events e WHERE e.id = ANY (ids)
        ORDER BY e.position;
      stored := ARRAY(
        SELECT DISTINCT owners[array_position(ids, e.id)]::integer
        FROM events e WHERE e.id = ANY (ids));
    END IF;

    revisions := ARRAY(
      SELECT (SELECT s.revision FROM streams s WHERE s.stream_id = u.stream)
      FROM unnest(p_streams) WITH ORDINALITY AS u(stream, ord) ORDER BY u.ord);

    FOR i IN 1 .. g LOOP
      CONTINUE WHEN i = ANY (stored);
      IF p_expected[i] = 'any'
         OR (p_expected[i] = 'no-stream' AND revisions[i] IS NULL)
         OR (p_expected[i] = 'exists' AND revisions[i] IS NOT NULL)
         OR p_expected[i] = coalesce(revisions[i]::text, 'no-stream') THEN
        accepted[i] := true;
        total := total + counts[i];
      ELSE
        append_index := i;
        outcome := 'conflict';
        stream_revision := revisions[i];
        RETURN NEXT;
      END IF;
    END LOOP;
    IF total = 0 THEN
      RETURN;
    END IF;

    -- The transaction's id and the group's positions are taken together under one lock,
    -- released at once: of two appends, the one with the lower transaction id holds the lower
    -- positions. Nothing above wrote, so the transaction has no id before this point.
    BEGIN
      PERFORM pg_advisory_lock(1953853541, 0);
      SELECT max(nextval('event_positions')), pg_current_xact_id()
        INTO last_position, xact FROM generate_series(1, total);
      PERFORM pg_advisory_unlock(1953853541, 0);
    EXCEPTION WHEN OTHERS OR QUERY_CANCELED THEN
      -- A session lock outlives the transaction: never leave it behind.
      PERFORM pg_advisory_unlock(1953853541, 0);
      RAISE;
    END;

    INSERT INTO streams AS s (stream_id, revision)
      SELECT p_streams[k], coalesce(revisions[k], -1) + counts[k]
      FROM generate_subscripts(p_streams, 1) k WHERE accepted[k]
      ON CONFLICT (stream_id) DO UPDATE SET revision = EXCLUDED.revision;
    INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at,
                        recorded_at, data, metadata, transaction_id)
      SELECT last_position - total + row_number() OVER (ORDER BY a.i, x.ord), (x.e->>'id')::uuid,
             p_streams[a.i], coalesce(revisions[a.i], -1) + x.ord::integer, x.e->>'type',
             p_schema_version, (x.e->>'occurredAt')::timestamptz, p_recorded_at[a.i], x.e->'data',
             x.e->'metadata', pg_current_xact_id()
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS a(evs, i),
           jsonb_array_elements(a.evs) WITH ORDINALITY AS x(e, ord)
      WHERE accepted[a.i];

    RETURN QUERY
      SELECT k, 'appended', coalesce(revisions[k], -1) + 1,
             last_position - total + sum(counts[k]) OVER (ORDER BY k), NULL::uuid, NULL::text,
             NULL::integer, NULL::text, NULL::integer, NULL::timestamptz, NULL::timestamptz,
             NULL::jsonb, NULL::jsonb
      FROM generate_subscripts(p_streams, 1) k WHERE accepted[k];
  END
  $append$;
  `,
  `
  -- Appends as columns: the group's events travel as one array per column (as a plain
  -- INSERT … SELECT unnest does), not as one json document exploded on the server, and the
  -- function runs five statements instead of eleven. Outcomes and rules are
  -- truceline_append_group's.
  --
  -- Plans: plpgsql keeps each statement's plan for the session once it has run a few times,
  -- planned from what the statistics said then. Planned while the events table was small (a
  -- new database, before autovacuum first analyzes it), the lookup of the group's ids by
  -- "id = ANY (…)" became a sequential scan of the whole table, and stayed one for every later
  -- append of that connection while the table grew, until an analyze: seconds to a minute of
  -- appends each costing a scan of the log. And a statement whose plan for any arrays looked
  -- dearer than its plan for the arrays at hand was planned again on every call, which cost
  -- more than running it. Every lookup here has an index: enable_seqscan = off makes the
  -- planner take it whatever the statistics say, and force_generic_plan plans each statement
  -- once per connection.
  DROP FUNCTION truceline_append_group(text[], text[], timestamptz[], jsonb, integer);

  CREATE FUNCTION truceline_append_columns(
    p_streams text[],
    p_expected text[],
    p_recorded_at timestamptz[],
    p_counts integer[],
    p_owners integer[],
    p_ids uuid[],
    p_types text[],
    p_occurred_at timestamptz[],
    p_data jsonb[],
    p_metadata jsonb[],
    p_schema_version integer
  ) RETURNS TABLE (
    append_index integer,
    outcome text,
    stream_revision integer,
    "position" bigint,
    id uuid,
    stream_id text,
    revision integer,
    type text,
    schema_version integer,
    occurred_at timestamptz,
    recorded_at timestamptz,
    data jsonb,
    metadata jsonb
  ) LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
  AS $append$
  #variable_conflict use_column
  DECLARE
    g integer := cardinality(p_streams);
    revisions integer[];
    any_stored boolean;
    stored boolean[] := array_fill(false, ARRAY[g]);
    accepted boolean[] := array_fill(false, ARRAY[g]);
    -- Per append: the index of its first event in the event columns, and how many events of
    -- accepted appends come before it (its positions follow those).
    firsts integer[] := array_fill(0, ARRAY[g]);
    offsets integer[] := array_fill(0, ARRAY[g]);
    total integer := 0;
    next_first integer := 1;
    last_position bigint;
    xact xid8;
    unlocked boolean;
    k integer;
  BEGIN
    -- Appends to one stream queue here until COMMIT (a stream's revision order is its position
    -- order); appends to other streams go on. An advisory lock, not a row lock: taking it gives
    -- the transaction no id yet (see below). Stream locks are taken in ascending key order, so
    -- two groups never wait on each other crosswise.
    IF g = 1 THEN
      PERFORM pg_advisory_xact_lock(1953853540, hashtext(p_streams[1]));
    ELSE
      PERFORM pg_advisory_xact_lock(1953853540, h)
        FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest(p_streams) s ORDER BY 1) keys;
    END IF;

    -- Read after the locks, in a statement of its own: its snapshot shows every append to these
    -- streams that committed before the locks were granted.
    SELECT ARRAY(SELECT (SELECT s.revision FROM streams s WHERE s.stream_id = u.stream)
                 FROM unnest(p_streams) WITH ORDINALITY AS u(stream, ord) ORDER BY u.ord),
           EXISTS (SELECT 1 FROM events e WHERE e.id = ANY (p_ids))
      INTO revisions, any_stored;

    -- Retried appends are answered with what is stored, before any revision check.
    IF any_stored THEN
      FOR append_index, "position", id, stream_id, revision, type, schema_version, occurred_at,
          recorded_at, data, metadata IN
        SELECT p_owners[array_position(p_ids, e.id)], e.position, e.id, e.stream_id, e.revision,
               e.type, e.schema_version, e.occurred_at, e.recorded_at, e.data, e.metadata
        FROM events e WHERE e.id = ANY (p_ids) ORDER BY e.position
      LOOP
        outcome := 'stored';
        stored[append_index] := true;
        RETURN NEXT;
      END LOOP;
      "position" := NULL; id := NULL; stream_id := NULL; revision := NULL; type := NULL;
      schema_version := NULL; occurred_at := NULL; recorded_at := NULL; data := NULL;
      metadata := NULL;
    END IF;

    FOR k IN 1 .. g LOOP
      firsts[k] := next_first;
      next_first := next_first + p_counts[k];
      CONTINUE WHEN stored[k];
      IF p_expected[k] = 'any'
         OR (p_expected[k] = 'no-stream' AND revisions[k] IS NULL)
         OR (p_expected[k] = 'exists' AND revisions[k] IS NOT NULL)
         OR p_expected[k] = coalesce(revisions[k]::text, 'no-stream') THEN
        accepted[k] := true;
        offsets[k] := total;
        total := total + p_counts[k];
      ELSE
        append_index := k;
        outcome := 'conflict';
        stream_revision := revisions[k];
        RETURN NEXT;
      END IF;
    END LOOP;
    IF total = 0 THEN
      RETURN;
    END IF;

    -- The transaction's id and the group's positions are taken together under one lock,
    -- released at once: of two appends, the one with the lower transaction id holds the lower
    -- positions. Nothing above wrote, so the transaction has no id before this point. One
    -- statement: the lock (outer side of the join, which the lateral reference fixes), then
    -- the positions and the id, then the unlock, projected from the one row they make.
    BEGIN
      SELECT t.last, t.xact, pg_advisory_unlock(1953853541, 0)
        INTO last_position, xact, unlocked
        FROM (SELECT pg_advisory_lock(1953853541, 0)::text) AS l(locked),
        LATERAL (SELECT max(nextval('event_positions')) AS last, pg_current_xact_id() AS xact
                 FROM generate_series(1, total + length(l.locked))) t;
    EXCEPTION WHEN OTHERS OR QUERY_CANCELED THEN
      -- A session lock outlives the transaction: never leave it behind.
      PERFORM pg_advisory_unlock(1953853541, 0);
      RAISE;
    END;

    WITH heads AS (
      INSERT INTO streams AS s (stream_id, revision)
        SELECT p_streams[a.i], coalesce(revisions[a.i], -1) + p_counts[a.i]
        FROM generate_series(1, g) AS a(i) WHERE accepted[a.i]
        ON CONFLICT (stream_id) DO UPDATE SET revision = EXCLUDED.revision
    )
    INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at,
                        recorded_at, data, metadata, transaction_id)
      SELECT last_position - total + offsets[e.owner] + (e.n - firsts[e.owner]) + 1, e.id,
             p_streams[e.owner], coalesce(revisions[e.owner], -1) + (e.n - firsts[e.owner]) + 1,
             e.type, p_schema_version, e.occurred_at, p_recorded_at[e.owner], e.data,
             e.metadata, xact
      FROM unnest(p_owners, p_ids, p_types, p_occurred_at, p_data, p_metadata)
             WITH ORDINALITY AS e(owner, id, type, occurred_at, data, metadata, n)
      WHERE accepted[e.owner];

    FOR k IN 1 .. g LOOP
      CONTINUE WHEN NOT accepted[k];
      append_index := k;
      outcome := 'appended';
      stream_revision := coalesce(revisions[k], -1) + 1;
      "position" := last_position - total + offsets[k] + p_counts[k];
      RETURN NEXT;
    END LOOP;
  END
  $append$;
  `,
  `
  -- The reads a process repeats most, as functions whose plans are made once per connection and
  -- kept (as truceline_append_columns's are, and for the same reason: planned on every call,
  -- the log's tail read and a stream's read cost the server more to plan than to run; planned
  -- once on a new database, they scanned the whole table until the next analyze). Each lookup
  -- here has an index it should take whatever the statistics say.
  --
  -- The log after p_after in position order, at most p_limit rows, up to p_until when given,
  -- stopping before the first row that is neither right after the row before it (or p_after)
  -- nor of a transaction below the horizon (the lowest transaction id in flight in this
  -- statement's snapshot): what SqlEventStore's readers may take (see its class comment). The
  -- rows past that one would be dropped by the reader and read again later. head is the
  -- highest position committed (up to p_until), in flight or not. One row with nothing but
  -- head when no row is taken. STABLE: its statements see the caller's snapshot, the one the
  -- horizon is taken from.
  CREATE FUNCTION truceline_read_log(p_after bigint, p_until bigint, p_limit bigint)
  RETURNS TABLE (
    head bigint,
    "position" bigint,
    id uuid,
    stream_id text,
    revision integer,
    type text,
    schema_version integer,
    occurred_at timestamptz,
    recorded_at timestamptz,
    data jsonb,
    metadata jsonb,
    settled boolean
  ) LANGUAGE plpgsql STABLE SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
  AS $read$
  #variable_conflict use_column
  DECLARE
    horizon xid8 := pg_snapshot_xmin(pg_current_snapshot());
    bound bigint := coalesce(p_until, 9223372036854775807);
    top bigint;
    reached bigint := p_after;
    pos bigint;
    xact xid8;
  BEGIN
    SELECT max(e.position) INTO top FROM events e WHERE e.position <= bound;
    -- Where to stop, from the two columns that tell; then the rows up to there. (Returning each
    -- row from this loop cost a page of 500 a fifth more than the plain query.)
    FOR pos, xact IN
      SELECT e.position, e.transaction_id FROM events e
       WHERE e.position > p_after AND e.position <= bound ORDER BY e.position LIMIT p_limit
    LOOP
      EXIT WHEN pos <> reached + 1 AND xact >= horizon;
      reached := pos;
    END LOOP;
    IF reached = p_after THEN
      head := top;
      RETURN NEXT;
      RETURN;
    END IF;
    RETURN QUERY
      SELECT top, e.position, e.id, e.stream_id, e.revision, e.type, e.schema_version,
             e.occurred_at, e.recorded_at, e.data, e.metadata, e.transaction_id < horizon
        FROM events e WHERE e.position > p_after AND e.position <= reached ORDER BY e.position;
  END
  $read$;

  -- A stream's events from revision p_from in revision order, at most p_limit.
  CREATE FUNCTION truceline_read_stream(p_stream text, p_from integer, p_limit bigint)
  RETURNS TABLE (
    "position" bigint,
    id uuid,
    stream_id text,
    revision integer,
    type text,
    schema_version integer,
    occurred_at timestamptz,
    recorded_at timestamptz,
    data jsonb,
    metadata jsonb
  ) LANGUAGE plpgsql STABLE SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
  AS $read$
  #variable_conflict use_column
  BEGIN
    RETURN QUERY
      SELECT e.position, e.id, e.stream_id, e.revision, e.type, e.schema_version,
             e.occurred_at, e.recorded_at, e.data, e.metadata
        FROM events e WHERE e.stream_id = p_stream AND e.revision >= p_from
       ORDER BY e.revision LIMIT p_limit;
  END
  $read$;
  `,
  `
  -- A stream's revision read from its events, not kept in a table of its own. Every append wrote
  -- its streams' rows in the streams table as well as its events (a heap row, an index entry
  -- and, for a new stream, a speculative insertion: about a fifth of the append's server time
  -- for a report's one event), to keep a number the (stream_id, revision) unique index of the
  -- events already finds in one descent: the last revision of a stream is its last entry there.
  -- Under the stream's lock, the events show every append to the stream that committed, as the
  -- streams table did. Outcomes and rules are truceline_append_columns's, unchanged.
  CREATE OR REPLACE FUNCTION truceline_append_columns(
    p_streams text[],
    p_expected text[],
    p_recorded_at timestamptz[],
    p_counts integer[],
    p_owners integer[],
    p_ids uuid[],
    p_types text[],
    p_occurred_at timestamptz[],
    p_data jsonb[],
    p_metadata jsonb[],
    p_schema_version integer
  ) RETURNS TABLE (
    append_index integer,
    outcome text,
    stream_revision integer,
    "position" bigint,
    id uuid,
    stream_id text,
    revision integer,
    type text,
    schema_version integer,
    occurred_at timestamptz,
    recorded_at timestamptz,
    data jsonb,
    metadata jsonb
  ) LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
  AS $append$
  #variable_conflict use_column
  DECLARE
    g integer := cardinality(p_streams);
    revisions integer[];
    any_stored boolean;
    stored boolean[] := array_fill(false, ARRAY[g]);
    accepted boolean[] := array_fill(false, ARRAY[g]);
    -- Per append: the index of its first event in the event columns, and how many events of
    -- accepted appends come before it (its positions follow those).
    firsts integer[] := array_fill(0, ARRAY[g]);
    offsets integer[] := array_fill(0, ARRAY[g]);
    total integer := 0;
    next_first integer := 1;
    last_position bigint;
    xact xid8;
    unlocked boolean;
    k integer;
  BEGIN
    -- Appends to one stream queue here until COMMIT (a stream's revision order is its position
    -- order); appends to other streams go on. An advisory lock, not a row lock: taking it gives
    -- the transaction no id yet (see below). Stream locks are taken in ascending key order, so
    -- two groups never wait on each other crosswise.
    IF g = 1 THEN
      PERFORM pg_advisory_xact_lock(1953853540, hashtext(p_streams[1]));
    ELSE
      PERFORM pg_advisory_xact_lock(1953853540, h)
        FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest(p_streams) s ORDER BY 1) keys;
    END IF;

    -- Read after the locks, in a statement of its own: its snapshot shows every append to these
    -- streams that committed before the locks were granted. A stream's revision is its last
    -- event's, found at the end of the (stream_id, revision) index.
    SELECT ARRAY(SELECT (SELECT max(e.revision) FROM events e WHERE e.stream_id = u.stream)
                 FROM unnest(p_streams) WITH ORDINALITY AS u(stream, ord) ORDER BY u.ord),
           EXISTS (SELECT 1 FROM events e WHERE e.id = ANY (p_ids))
      INTO revisions, any_stored;

    -- Retried appends are answered with what is stored, before any revision check.
    IF any_stored THEN
      FOR append_index, "position", id, stream_id, revision, type, schema_version, occurred_at,
          recorded_at, data, metadata IN
        SELECT p_owners[array_position(p_ids, e.id)], e.position, e.id, e.stream_id, e.revision,
               e.type, e.schema_version, e.occurred_at, e.recorded_at, e.data, e.metadata
        FROM events e WHERE e.id = ANY (p_ids) ORDER BY e.position
      LOOP
        outcome := 'stored';
        stored[append_index] := true;
        RETURN NEXT;
      END LOOP;
      "position" := NULL; id := NULL; stream_id := NULL; revision := NULL; type := NULL;
      schema_version := NULL; occurred_at := NULL; recorded_at := NULL; data := NULL;
      metadata := NULL;
    END IF;

    FOR k IN 1 .. g LOOP
      firsts[k] := next_first;
      next_first := next_first + p_counts[k];
      CONTINUE WHEN stored[k];
      IF p_expected[k] = 'any'
         OR (p_expected[k] = 'no-stream' AND revisions[k] IS NULL)
         OR (p_expected[k] = 'exists' AND revisions[k] IS NOT NULL)
         OR p_expected[k] = coalesce(revisions[k]::text, 'no-stream') THEN
        accepted[k] := true;
        offsets[k] := total;
        total := total + p_counts[k];
      ELSE
        append_index := k;
        outcome := 'conflict';
        stream_revision := revisions[k];
        RETURN NEXT;
      END IF;
    END LOOP;
    IF total = 0 THEN
      RETURN;
    END IF;

    -- The transaction's id and the group's positions are taken together under one lock,
    -- released at once: of two appends, the one with the lower transaction id holds the lower
    -- positions. Nothing above wrote, so the transaction has no id before this point. One
    -- statement: the lock (outer side of the join, which the lateral reference fixes), then
    -- the positions and the id, then the unlock, projected from the one row they make.
    BEGIN
      SELECT t.last, t.xact, pg_advisory_unlock(1953853541, 0)
        INTO last_position, xact, unlocked
        FROM (SELECT pg_advisory_lock(1953853541, 0)::text) AS l(locked),
        LATERAL (SELECT max(nextval('event_positions')) AS last, pg_current_xact_id() AS xact
                 FROM generate_series(1, total + length(l.locked))) t;
    EXCEPTION WHEN OTHERS OR QUERY_CANCELED THEN
      -- A session lock outlives the transaction: never leave it behind.
      PERFORM pg_advisory_unlock(1953853541, 0);
      RAISE;
    END;

    INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at,
                        recorded_at, data, metadata, transaction_id)
      SELECT last_position - total + offsets[e.owner] + (e.n - firsts[e.owner]) + 1, e.id,
             p_streams[e.owner], coalesce(revisions[e.owner], -1) + (e.n - firsts[e.owner]) + 1,
             e.type, p_schema_version, e.occurred_at, p_recorded_at[e.owner], e.data,
             e.metadata, xact
      FROM unnest(p_owners, p_ids, p_types, p_occurred_at, p_data, p_metadata)
             WITH ORDINALITY AS e(owner, id, type, occurred_at, data, metadata, n)
      WHERE accepted[e.owner];

    FOR k IN 1 .. g LOOP
      CONTINUE WHEN NOT accepted[k];
      append_index := k;
      outcome := 'appended';
      stream_revision := coalesce(revisions[k], -1) + 1;
      "position" := last_position - total + offsets[k] + p_counts[k];
      RETURN NEXT;
    END LOOP;
  END
  $append$;

  DROP TABLE streams;
  `,
  `
  -- The append as before, with less to carry each way. Each append's events' data and metadata
  -- come as one JSON array text each, not as a jsonb[] literal: the client writes it by joining
  -- the JSON texts, instead of quoting every text again as an array element (a tenth of the
  -- append's Node CPU per event), and the server parses each event's JSON once either way. The
  -- answer is the outcome, revision and position of each append, and for a retried append each
  -- stored event as one JSON text (the replay's envelope): thirteen columns, nine of them null
  -- on every appended row, cost the client a row description and a parser per column per call.
  -- Outcomes and rules are the previous step's, unchanged.
  DROP FUNCTION truceline_append_columns(text[], text[], timestamptz[], integer[], integer[],
    uuid[], text[], timestamptz[], jsonb[], jsonb[], integer);
  CREATE FUNCTION truceline_append_columns(
    p_streams text[],
    p_expected text[],
    p_recorded_at timestamptz[],
    p_counts integer[],
    p_owners integer[],
    p_ids uuid[],
    p_types text[],
    p_occurred_at timestamptz[],
    p_data jsonb,
    p_metadata jsonb,
    p_schema_version integer
  ) RETURNS TABLE (
    append_index integer,
    outcome text,
    stream_revision integer,
    "position" bigint,
    event text
  ) LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
  AS $append$
  #variable_conflict use_column
  DECLARE
    g integer := cardinality(p_streams);
    revisions integer[];
    any_stored boolean;
    stored boolean[] := array_fill(false, ARRAY[g]);
    accepted boolean[] := array_fill(false, ARRAY[g]);
    -- Per append: the index of its first event in the event columns, and how many events of
    -- accepted appends come before it (its positions follow those).
    firsts integer[] := array_fill(0, ARRAY[g]);
    offsets integer[] := array_fill(0, ARRAY[g]);
    total integer := 0;
    next_first integer := 1;
    last_position bigint;
    xact xid8;
    unlocked boolean;
    k integer;
  BEGIN
    -- Appends to one stream queue here until COMMIT (a stream's revision order is its position
    -- order); appends to other streams go on. An advisory lock, not a row lock: taking it gives
    -- the transaction no id yet (see below). Stream locks are taken in ascending key order, so
    -- two groups never wait on each other crosswise.
    IF g = 1 THEN
      PERFORM pg_advisory_xact_lock(1953853540, hashtext(p_streams[1]));
    ELSE
      PERFORM pg_advisory_xact_lock(1953853540, h)
        FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest(p_streams) s ORDER BY 1) keys;
    END IF;

    -- Read after the locks, in a statement of its own: its snapshot shows every append to these
    -- streams that committed before the locks were granted. A stream's revision is its last
    -- event's, found at the end of the (stream_id, revision) index.
    SELECT ARRAY(SELECT (SELECT max(e.revision) FROM events e WHERE e.stream_id = u.stream)
                 FROM unnest(p_streams) WITH ORDINALITY AS u(stream, ord) ORDER BY u.ord),
           EXISTS (SELECT 1 FROM events e WHERE e.id = ANY (p_ids))
      INTO revisions, any_stored;

    -- Retried appends are answered with what is stored, before any revision check: each event
    -- as the envelope a replay reads (timestamps in ISO 8601 in years 1 to 9999, else
    -- milliseconds since 1970).
    IF any_stored THEN
      FOR append_index, "position", event IN
        SELECT p_owners[array_position(p_ids, e.id)], e.position,
               concat('{"id":"', e.id, '","type":', to_json(e.type),
                 ',"schemaVersion":', e.schema_version, ',"streamId":', to_json(e.stream_id),
                 ',"revision":', e.revision, ',"position":', e.position,
                 ',"occurredAt":',
                 CASE WHEN e.occurred_at >= '0001-01-01T00:00:00Z'
                       AND e.occurred_at < '10000-01-01T00:00:00Z'
                   THEN to_json(e.occurred_at AT TIME ZONE 'UTC')
                   ELSE to_json(floor(extract(epoch FROM e.occurred_at) * 1000)) END,
                 ',"recordedAt":',
                 CASE WHEN e.recorded_at >= '0001-01-01T00:00:00Z'
                       AND e.recorded_at < '10000-01-01T00:00:00Z'
                   THEN to_json(e.recorded_at AT TIME ZONE 'UTC')
                   ELSE to_json(floor(extract(epoch FROM e.recorded_at) * 1000)) END,
                 ',"data":', e.data, ',"metadata":', e.metadata, '}')
        FROM events e WHERE e.id = ANY (p_ids) ORDER BY e.position
      LOOP
        outcome := 'stored';
        stored[append_index] := true;
        RETURN NEXT;
      END LOOP;
      "position" := NULL; event := NULL;
    END IF;

    FOR k IN 1 .. g LOOP
      firsts[k] := next_first;
      next_first := next_first + p_counts[k];
      CONTINUE WHEN stored[k];
      IF p_expected[k] = 'any'
         OR (p_expected[k] = 'no-stream' AND revisions[k] IS NULL)
         OR (p_expected[k] = 'exists' AND revisions[k] IS NOT NULL)
         OR p_expected[k] = coalesce(revisions[k]::text, 'no-stream') THEN
        accepted[k] := true;
        offsets[k] := total;
        total := total + p_counts[k];
      ELSE
        append_index := k;
        outcome := 'conflict';
        stream_revision := revisions[k];
        RETURN NEXT;
      END IF;
    END LOOP;
    IF total = 0 THEN
      RETURN;
    END IF;

    -- The transaction's id and the group's positions are taken together under one lock,
    -- released at once: of two appends, the one with the lower transaction id holds the lower
    -- positions. Nothing above wrote, so the transaction has no id before this point. One
    -- statement: the lock (outer side of the join, which the lateral reference fixes), then
    -- the positions and the id, then the unlock, projected from the one row they make.
    BEGIN
      SELECT t.last, t.xact, pg_advisory_unlock(1953853541, 0)
        INTO last_position, xact, unlocked
        FROM (SELECT pg_advisory_lock(1953853541, 0)::text) AS l(locked),
        LATERAL (SELECT max(nextval('event_positions')) AS last, pg_current_xact_id() AS xact
                 FROM generate_series(1, total + length(l.locked))) t;
    EXCEPTION WHEN OTHERS OR QUERY_CANCELED THEN
      -- A session lock outlives the transaction: never leave it behind.
      PERFORM pg_advisory_unlock(1953853541, 0);
      RAISE;
    END;

    -- The event columns side by side, the n-th element of each array being the n-th event's.
    INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at,
                        recorded_at, data, metadata, transaction_id)
      SELECT last_position - total + offsets[e.owner] + (e.n - firsts[e.owner]) + 1, e.id,
             p_streams[e.owner], coalesce(revisions[e.owner], -1) + (e.n - firsts[e.owner]) + 1,
             e.type, p_schema_version, e.occurred_at, p_recorded_at[e.owner], e.data,
             e.metadata, xact
      FROM ROWS FROM (unnest(p_owners), unnest(p_ids), unnest(p_types), unnest(p_occurred_at),
                      jsonb_array_elements(p_data), jsonb_array_elements(p_metadata))
             WITH ORDINALITY AS e(owner, id, type, occurred_at, data, metadata, n)
      WHERE accepted[e.owner];

    FOR k IN 1 .. g LOOP
      CONTINUE WHEN NOT accepted[k];
      append_index := k;
      outcome := 'appended';
      stream_revision := coalesce(revisions[k], -1) + 1;
      "position" := last_position - total + offsets[k] + p_counts[k];
      RETURN NEXT;
    END LOOP;
  END
  $append$;
  `,
  `
  -- The append as before, without looking up the ids of an append that creates its stream.
  -- An append expecting no-stream to a stream that does not exist cannot be a repeat of one
  -- stored (that one would have made the stream), and an id of it stored on another stream
  -- refuses it as an idempotency conflict whatever the lookup finds: the insert's unique index
  -- on id finds it as well, once it fails, and the client answers from what is stored, as it
  -- already did for ids stored meanwhile by a concurrent append to another stream (the group
  -- goes again append by append, and only the refused one fails). Such a refused append's
  -- positions, taken before the insert failed, stay a hole that readers step over (see
  -- SqlEventStore), as a racing one's did; every append that succeeds, and every repeat, is
  -- gap-free as before. Every other append's ids are looked up as before: a repeat expecting a
  -- revision that holds (an acknowledgement recorded twice) is answered with what is stored,
  -- before any position is taken. The lookup was one descent of the id index per event, made
  -- again by the insert: for groups of new streams about a twelfth of the server's CPU.
  -- Outcomes and every other rule are the previous step's.
  CREATE OR REPLACE FUNCTION truceline_append_columns(
    p_streams text[],
    p_expected text[],
    p_recorded_at timestamptz[],
    p_counts integer[],
    p_owners integer[],
    p_ids uuid[],
    p_types text[],
    p_occurred_at timestamptz[],
    p_data jsonb,
    p_metadata jsonb,
    p_schema_version integer
  ) RETURNS TABLE (
    append_index integer,
    outcome text,
    stream_revision integer,
    "position" bigint,
    event text
  ) LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
  AS $append$
  #variable_conflict use_column
  DECLARE
    g integer := cardinality(p_streams);
    revisions integer[];
    -- Per append: whether its expected revision holds, and whether its ids are looked up.
    holds boolean[] := array_fill(false, ARRAY[g]);
    checked boolean[] := array_fill(false, ARRAY[g]);
    any_checked boolean := false;
    stored boolean[] := array_fill(false, ARRAY[g]);
    accepted boolean[] := array_fill(false, ARRAY[g]);
    -- Per append: the index of its first event in the event columns, and how many events of
    -- accepted appends come before it (its positions follow those).
    firsts integer[] := array_fill(0, ARRAY[g]);
    offsets integer[] := array_fill(0, ARRAY[g]);
    total integer := 0;
    next_first integer := 1;
    last_position bigint;
    xact xid8;
    unlocked boolean;
    k integer;
  BEGIN
    -- Appends to one stream queue here until COMMIT (a stream's revision order is its position
    -- order); appends to other streams go on. An advisory lock, not a row lock: taking it gives
    -- the transaction no id yet (see below). Stream locks are taken in ascending key order, so
    -- two groups never wait on each other crosswise.
    IF g = 1 THEN
      PERFORM pg_advisory_xact_lock(1953853540, hashtext(p_streams[1]));
    ELSE
      PERFORM pg_advisory_xact_lock(1953853540, h)
        FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest(p_streams) s ORDER BY 1) keys;
    END IF;

    -- Read after the locks, in a statement of its own: its snapshot shows every append to these
    -- streams that committed before the locks were granted. A stream's revision is its last
    -- event's, found at the end of the (stream_id, revision) index.
    revisions := ARRAY(SELECT (SELECT max(e.revision) FROM events e WHERE e.stream_id = u.stream)
                       FROM unnest(p_streams) WITH ORDINALITY AS u(stream, ord) ORDER BY u.ord);

    FOR k IN 1 .. g LOOP
      holds[k] := p_expected[k] = 'any'
        OR (p_expected[k] = 'no-stream' AND revisions[k] IS NULL)
        OR (p_expected[k] = 'exists' AND revisions[k] IS NOT NULL)
        OR p_expected[k] = coalesce(revisions[k]::text, 'no-stream');
      -- Not an append that creates its stream (see above).
      checked[k] := NOT (p_expected[k] = 'no-stream' AND revisions[k] IS NULL);
      any_checked := any_checked OR checked[k];
    END LOOP;

    -- Retried appends are answered with what is stored, before any revision check: each event
    -- as the envelope a replay reads (timestamps in ISO 8601 in years 1 to 9999, else
    -- milliseconds since 1970).
    IF any_checked THEN
      FOR append_index, "position", event IN
        SELECT p_owners[array_position(p_ids, e.id)], e.position,
               concat('{"id":"', e.id, '","type":', to_json(e.type),
                 ',"schemaVersion":', e.schema_version, ',"streamId":', to_json(e.stream_id),
                 ',"revision":', e.revision, ',"position":', e.position,
                 ',"occurredAt":',
                 CASE WHEN e.occurred_at >= '0001-01-01T00:00:00Z'
                       AND e.occurred_at < '10000-01-01T00:00:00Z'
                   THEN to_json(e.occurred_at AT TIME ZONE 'UTC')
                   ELSE to_json(floor(extract(epoch FROM e.occurred_at) * 1000)) END,
                 ',"recordedAt":',
                 CASE WHEN e.recorded_at >= '0001-01-01T00:00:00Z'
                       AND e.recorded_at < '10000-01-01T00:00:00Z'
                   THEN to_json(e.recorded_at AT TIME ZONE 'UTC')
                   ELSE to_json(floor(extract(epoch FROM e.recorded_at) * 1000)) END,
                 ',"data":', e.data, ',"metadata":', e.metadata, '}')
        FROM events e
        WHERE e.id = ANY (ARRAY(SELECT c.id FROM unnest(p_owners, p_ids) AS c(owner, id)
                                WHERE checked[c.owner]))
        ORDER BY e.position
      LOOP
        outcome := 'stored';
        stored[append_index] := true;
        RETURN NEXT;
      END LOOP;
      "position" := NULL; event := NULL;
    END IF;

    FOR k IN 1 .. g LOOP
      firsts[k] := next_first;
      next_first := next_first + p_counts[k];
      CONTINUE WHEN stored[k];
      IF holds[k] THEN
        accepted[k] := true;
        offsets[k] := total;
        total := total + p_counts[k];
      ELSE
        append_index := k;
        outcome := 'conflict';
        stream_revision := revisions[k];
        RETURN NEXT;
      END IF;
    END LOOP;
    IF total = 0 THEN
      RETURN;
    END IF;

    -- The transaction's id and the group's positions are taken together under one lock,
    -- released at once: of two appends, the one with the lower transaction id holds the lower
    -- positions. Nothing above wrote, so the transaction has no id before this point. One
    -- statement: the lock (outer side of the join, which the lateral reference fixes), then
    -- the positions and the id, then the unlock, projected from the one row they make.
    BEGIN
      SELECT t.last, t.xact, pg_advisory_unlock(1953853541, 0)
        INTO last_position, xact, unlocked
        FROM (SELECT pg_advisory_lock(1953853541, 0)::text) AS l(locked),
        LATERAL (SELECT max(nextval('event_positions')) AS last, pg_current_xact_id() AS xact
                 FROM generate_series(1, total + length(l.locked))) t;
    EXCEPTION WHEN OTHERS OR QUERY_CANCELED THEN
      -- A session lock outlives the transaction: never leave it behind.
      PERFORM pg_advisory_unlock(1953853541, 0);
      RAISE;
    END;

    -- The event columns side by side, the n-th element of each array being the n-th event's.
    INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at,
                        recorded_at, data, metadata, transaction_id)
      SELECT last_position - total + offsets[e.owner] + (e.n - firsts[e.owner]) + 1, e.id,
             p_streams[e.owner], coalesce(revisions[e.owner], -1) + (e.n - firsts[e.owner]) + 1,
             e.type, p_schema_version, e.occurred_at, p_recorded_at[e.owner], e.data,
             e.metadata, xact
      FROM ROWS FROM (unnest(p_owners), unnest(p_ids), unnest(p_types), unnest(p_occurred_at),
                      jsonb_array_elements(p_data), jsonb_array_elements(p_metadata))
             WITH ORDINALITY AS e(owner, id, type, occurred_at, data, metadata, n)
      WHERE accepted[e.owner];

    FOR k IN 1 .. g LOOP
      CONTINUE WHEN NOT accepted[k];
      append_index := k;
      outcome := 'appended';
      stream_revision := coalesce(revisions[k], -1) + 1;
      "position" := last_position - total + offsets[k] + p_counts[k];
      RETURN NEXT;
    END LOOP;
  END
  $append$;
  `,
  `
  -- The append as before, with one more check a caller may ask for: that another stream, one
  -- its decision read, is still at the revision it read (p_guard_stream, and per append the
  -- revision expected of it, or null). A command decides with the escalation policy its
  -- process holds; an adoption committed through another process since must govern what this
  -- one appends next (SPEC §3). Reading the policy stream before every command cost a round
  -- trip and a statement on the command's path (a third of a statement a POST at 1,000/s);
  -- checked here instead, the command reads the stream again only when it moved. The guard is
  -- read after the streams' revisions, one index probe a group. An append whose guard moved
  -- is answered 'guard-moved' with the guard stream's revision, and nothing of it is written.
  -- Everything else is the previous step's, unchanged.
  DROP FUNCTION truceline_append_columns(text[], text[], timestamptz[], integer[], integer[],
    uuid[], text[], timestamptz[], jsonb, jsonb, integer);
  CREATE FUNCTION truceline_append_columns(
    p_streams text[],
    p_expected text[],
    p_recorded_at timestamptz[],
    p_counts integer[],
    p_owners integer[],
    p_ids uuid[],
    p_types text[],
    p_occurred_at timestamptz[],
    p_data jsonb,
    p_metadata jsonb,
    p_schema_version integer,
    p_guard_stream text,
    p_guard_expected integer[]
  ) RETURNS TABLE (
    append_index integer,
    outcome text,
    stream_revision integer,
    "position" bigint,
    event text
  ) LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
  AS $append$
  #variable_conflict use_column
  DECLARE
    g integer := cardinality(p_streams);
    revisions integer[];
    guard_revision integer;
    -- Per append: whether its expected revision holds, and whether its ids are looked up.
    holds boolean[] := array_fill(false, ARRAY[g]);
    checked boolean[] := array_fill(false, ARRAY[g]);
    any_checked boolean := false;
    stored boolean[] := array_fill(false, ARRAY[g]);
    accepted boolean[] := array_fill(false, ARRAY[g]);
    -- Per append: the index of its first event in the event columns, and how many events of
    -- accepted appends come before it (its positions follow those).
    firsts integer[] := array_fill(0, ARRAY[g]);
    offsets integer[] := array_fill(0, ARRAY[g]);
    total integer := 0;
    next_first integer := 1;
    last_position bigint;
    xact xid8;
    unlocked boolean;
    k integer;
  BEGIN
    -- Appends to one stream queue here until COMMIT (a stream's revision order is its position
    -- order); appends to other streams go on. An advisory lock, not a row lock: taking it gives
    -- the transaction no id yet (see below). Stream locks are taken in ascending key order, so
    -- two groups never wait on each other crosswise.
    IF g = 1 THEN
      PERFORM pg_advisory_xact_lock(1953853540, hashtext(p_streams[1]));
    ELSE
      PERFORM pg_advisory_xact_lock(1953853540, h)
        FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest(p_streams) s ORDER BY 1) keys;
    END IF;

    -- Read after the locks, in a statement of its own: its snapshot shows every append to these
    -- streams that committed before the locks were granted. A stream's revision is its last
    -- event's, found at the end of the (stream_id, revision) index.
    revisions := ARRAY(SELECT (SELECT max(e.revision) FROM events e WHERE e.stream_id = u.stream)
                       FROM unnest(p_streams) WITH ORDINALITY AS u(stream, ord) ORDER BY u.ord);
    IF p_guard_stream IS NOT NULL THEN
      guard_revision := (SELECT max(e.revision) FROM events e WHERE e.stream_id = p_guard_stream);
    END IF;

    FOR k IN 1 .. g LOOP
      holds[k] := p_expected[k] = 'any'
        OR (p_expected[k] = 'no-stream' AND revisions[k] IS NULL)
        OR (p_expected[k] = 'exists' AND revisions[k] IS NOT NULL)
        OR p_expected[k] = coalesce(revisions[k]::text, 'no-stream');
      -- Not an append that creates its stream (see above).
      checked[k] := NOT (p_expected[k] = 'no-stream' AND revisions[k] IS NULL);
      any_checked := any_checked OR checked[k];
    END LOOP;

    -- Retried appends are answered with what is stored, before any revision check: each event
    -- as the envelope a replay reads (timestamps in ISO 8601 in years 1 to 9999, else
    -- milliseconds since 1970).
    IF any_checked THEN
      FOR append_index, "position", event IN
        SELECT p_owners[array_position(p_ids, e.id)], e.position,
               concat('{"id":"', e.id, '","type":', to_json(e.type),
                 ',"schemaVersion":', e.schema_version, ',"streamId":', to_json(e.stream_id),
                 ',"revision":', e.revision, ',"position":', e.position,
                 ',"occurredAt":',
                 CASE WHEN e.occurred_at >= '0001-01-01T00:00:00Z'
                       AND e.occurred_at < '10000-01-01T00:00:00Z'
                   THEN to_json(e.occurred_at AT TIME ZONE 'UTC')
                   ELSE to_json(floor(extract(epoch FROM e.occurred_at) * 1000)) END,
                 ',"recordedAt":',
                 CASE WHEN e.recorded_at >= '0001-01-01T00:00:00Z'
                       AND e.recorded_at < '10000-01-01T00:00:00Z'
                   THEN to_json(e.recorded_at AT TIME ZONE 'UTC')
                   ELSE to_json(floor(extract(epoch FROM e.recorded_at) * 1000)) END,
                 ',"data":', e.data, ',"metadata":', e.metadata, '}')
        FROM events e
        WHERE e.id = ANY (ARRAY(SELECT c.id FROM unnest(p_owners, p_ids) AS c(owner, id)
                                WHERE checked[c.owner]))
        ORDER BY e.position
      LOOP
        outcome := 'stored';
        stored[append_index] := true;
        RETURN NEXT;
      END LOOP;
      "position" := NULL; event := NULL;
    END IF;

    FOR k IN 1 .. g LOOP
      firsts[k] := next_first;
      next_first := next_first + p_counts[k];
      CONTINUE WHEN stored[k];
      IF p_guard_expected[k] IS NOT NULL
         AND p_guard_expected[k] IS DISTINCT FROM coalesce(guard_revision, -1) THEN
        append_index := k;
        outcome := 'guard-moved';
        stream_revision := guard_revision;
        RETURN NEXT;
        CONTINUE;
      END IF;
      IF holds[k] THEN
        accepted[k] := true;
        offsets[k] := total;
        total := total + p_counts[k];
      ELSE
        append_index := k;
        outcome := 'conflict';
        stream_revision := revisions[k];
        RETURN NEXT;
      END IF;
    END LOOP;
    IF total = 0 THEN
      RETURN;
    END IF;

    -- The transaction's id and the group's positions are taken together under one lock,
    -- released at once: of two appends, the one with the lower transaction id holds the lower
    -- positions. Nothing above wrote, so the transaction has no id before this point. One
    -- statement: the lock (outer side of the join, which the lateral reference fixes), then
    -- the positions and the id, then the unlock, projected from the one row they make.
    BEGIN
      SELECT t.last, t.xact, pg_advisory_unlock(1953853541, 0)
        INTO last_position, xact, unlocked
        FROM (SELECT pg_advisory_lock(1953853541, 0)::text) AS l(locked),
        LATERAL (SELECT max(nextval('event_positions')) AS last, pg_current_xact_id() AS xact
                 FROM generate_series(1, total + length(l.locked))) t;
    EXCEPTION WHEN OTHERS OR QUERY_CANCELED THEN
      -- A session lock outlives the transaction: never leave it behind.
      PERFORM pg_advisory_unlock(1953853541, 0);
      RAISE;
    END;

    -- The event columns side by side, the n-th element of each array being the n-th event's.
    INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at,
                        recorded_at, data, metadata, transaction_id)
      SELECT last_position - total + offsets[e.owner] + (e.n - firsts[e.owner]) + 1, e.id,
             p_streams[e.owner], coalesce(revisions[e.owner], -1) + (e.n - firsts[e.owner]) + 1,
             e.type, p_schema_version, e.occurred_at, p_recorded_at[e.owner], e.data,
             e.metadata, xact
      FROM ROWS FROM (unnest(p_owners), unnest(p_ids), unnest(p_types), unnest(p_occurred_at),
                      jsonb_array_elements(p_data), jsonb_array_elements(p_metadata))
             WITH ORDINALITY AS e(owner, id, type, occurred_at, data, metadata, n)
      WHERE accepted[e.owner];

    FOR k IN 1 .. g LOOP
      CONTINUE WHEN NOT accepted[k];
      append_index := k;
      outcome := 'appended';
      stream_revision := coalesce(revisions[k], -1) + 1;
      "position" := last_position - total + offsets[k] + p_counts[k];
      RETURN NEXT;
    END LOOP;
  END
  $append$;
  `,
  `
  -- The append as before, its guard stream's key locked as well, shared. Read without it, an
  -- adoption in flight (its positions taken, not yet committed) was not seen by a guarded
  -- append, which then committed with positions after the adoption's: an event decided under
  -- the older policy after the adoption in the log. Now a guarded append waits for an adoption
  -- in flight and reads it (and is refused, 'guard-moved'), and an adoption waits for the
  -- guarded appends in flight. Everything else is the previous step's, unchanged.
  CREATE OR REPLACE FUNCTION truceline_append_columns(
    p_streams text[],
    p_expected text[],
    p_recorded_at timestamptz[],
    p_counts integer[],
    p_owners integer[],
    p_ids uuid[],
    p_types text[],
    p_occurred_at timestamptz[],
    p_data jsonb,
    p_metadata jsonb,
    p_schema_version integer,
    p_guard_stream text,
    p_guard_expected integer[]
  ) RETURNS TABLE (
    append_index integer,
    outcome text,
    stream_revision integer,
    "position" bigint,
    event text
  ) LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
  AS $append$
  #variable_conflict use_column
  DECLARE
    g integer := cardinality(p_streams);
    revisions integer[];
    guard_revision integer;
    -- Per append: whether its expected revision holds, and whether its ids are looked up.
    holds boolean[] := array_fill(false, ARRAY[g]);
    checked boolean[] := array_fill(false, ARRAY[g]);
    any_checked boolean := false;
    stored boolean[] := array_fill(false, ARRAY[g]);
    accepted boolean[] := array_fill(false, ARRAY[g]);
    -- Per append: the index of its first event in the event columns, and how many events of
    -- accepted appends come before it (its positions follow those).
    firsts integer[] := array_fill(0, ARRAY[g]);
    offsets integer[] := array_fill(0, ARRAY[g]);
    total integer := 0;
    next_first integer := 1;
    last_position bigint;
    xact xid8;
    unlocked boolean;
    k integer;
  BEGIN
    -- Appends to one stream queue here until COMMIT (a stream's revision order is its position
    -- order); appends to other streams go on. An advisory lock, not a row lock: taking it gives
    -- the transaction no id yet (see below). The guard stream's key is taken too, shared: an
    -- append to the guard stream (an adoption) holds it exclusively until COMMIT, so a guarded
    -- append waits for one in flight and then reads it, and an adoption waits for the guarded
    -- appends in flight, whose positions then come before its own. All keys are taken in
    -- ascending order, so two groups never wait on each other crosswise.
    IF g = 1 AND p_guard_stream IS NULL THEN
      PERFORM pg_advisory_xact_lock(1953853540, hashtext(p_streams[1]));
    ELSE
      PERFORM CASE WHEN keys.exclusive THEN pg_advisory_xact_lock(1953853540, keys.h)::text
                   ELSE pg_advisory_xact_lock_shared(1953853540, keys.h)::text END
        FROM (SELECT k.h, bool_or(k.exclusive) AS exclusive
                FROM (SELECT hashtext(s) AS h, true AS exclusive FROM unnest(p_streams) s
                      UNION ALL
                      SELECT hashtext(p_guard_stream), false WHERE p_guard_stream IS NOT NULL) k
               GROUP BY k.h ORDER BY k.h) keys;
    END IF;

    -- Read after the locks, in a statement of its own: its snapshot shows every append to these
    -- streams that committed before the locks were granted. A stream's revision is its last
    -- event's, found at the end of the (stream_id, revision) index.
    revisions := ARRAY(SELECT (SELECT max(e.revision) FROM events e WHERE e.stream_id = u.stream)
                       FROM unnest(p_streams) WITH ORDINALITY AS u(stream, ord) ORDER BY u.ord);
    IF p_guard_stream IS NOT NULL THEN
      guard_revision := (SELECT max(e.revision) FROM events e WHERE e.stream_id = p_guard_stream);
    END IF;

    FOR k IN 1 .. g LOOP
      holds[k] := p_expected[k] = 'any'
        OR (p_expected[k] = 'no-stream' AND revisions[k] IS NULL)
        OR (p_expected[k] = 'exists' AND revisions[k] IS NOT NULL)
        OR p_expected[k] = coalesce(revisions[k]::text, 'no-stream');
      -- Not an append that creates its stream (see above).
      checked[k] := NOT (p_expected[k] = 'no-stream' AND revisions[k] IS NULL);
      any_checked := any_checked OR checked[k];
    END LOOP;

    -- Retried appends are answered with what is stored, before any revision check: each event
    -- as the envelope a replay reads (timestamps in ISO 8601 in years 1 to 9999, else
    -- milliseconds since 1970).
    IF any_checked THEN
      FOR append_index, "position", event IN
        SELECT p_owners[array_position(p_ids, e.id)], e.position,
               concat('{"id":"', e.id, '","type":', to_json(e.type),
                 ',"schemaVersion":', e.schema_version, ',"streamId":', to_json(e.stream_id),
                 ',"revision":', e.revision, ',"position":', e.position,
                 ',"occurredAt":',
                 CASE WHEN e.occurred_at >= '0001-01-01T00:00:00Z'
                       AND e.occurred_at < '10000-01-01T00:00:00Z'
                   THEN to_json(e.occurred_at AT TIME ZONE 'UTC')
                   ELSE to_json(floor(extract(epoch FROM e.occurred_at) * 1000)) END,
                 ',"recordedAt":',
                 CASE WHEN e.recorded_at >= '0001-01-01T00:00:00Z'
                       AND e.recorded_at < '10000-01-01T00:00:00Z'
                   THEN to_json(e.recorded_at AT TIME ZONE 'UTC')
                   ELSE to_json(floor(extract(epoch FROM e.recorded_at) * 1000)) END,
                 ',"data":', e.data, ',"metadata":', e.metadata, '}')
        FROM events e
        WHERE e.id = ANY (ARRAY(SELECT c.id FROM unnest(p_owners, p_ids) AS c(owner, id)
                                WHERE checked[c.owner]))
        ORDER BY e.position
      LOOP
        outcome := 'stored';
        stored[append_index] := true;
        RETURN NEXT;
      END LOOP;
      "position" := NULL; event := NULL;
    END IF;

    FOR k IN 1 .. g LOOP
      firsts[k] := next_first;
      next_first := next_first + p_counts[k];
      CONTINUE WHEN stored[k];
      IF p_guard_expected[k] IS NOT NULL
         AND p_guard_expected[k] IS DISTINCT FROM coalesce(guard_revision, -1) THEN
        append_index := k;
        outcome := 'guard-moved';
        stream_revision := guard_revision;
        RETURN NEXT;
        CONTINUE;
      END IF;
      IF holds[k] THEN
        accepted[k] := true;
        offsets[k] := total;
        total := total + p_counts[k];
      ELSE
        append_index := k;
        outcome := 'conflict';
        stream_revision := revisions[k];
        RETURN NEXT;
      END IF;
    END LOOP;
    IF total = 0 THEN
      RETURN;
    END IF;

    -- The transaction's id and the group's positions are taken together under one lock,
    -- released at once: of two appends, the one with the lower transaction id holds the lower
    -- positions. Nothing above wrote, so the transaction has no id before this point. One
    -- statement: the lock (outer side of the join, which the lateral reference fixes), then
    -- the positions and the id, then the unlock, projected from the one row they make.
    BEGIN
      SELECT t.last, t.xact, pg_advisory_unlock(1953853541, 0)
        INTO last_position, xact, unlocked
        FROM (SELECT pg_advisory_lock(1953853541, 0)::text) AS l(locked),
        LATERAL (SELECT max(nextval('event_positions')) AS last, pg_current_xact_id() AS xact
                 FROM generate_series(1, total + length(l.locked))) t;
    EXCEPTION WHEN OTHERS OR QUERY_CANCELED THEN
      -- A session lock outlives the transaction: never leave it behind.
      PERFORM pg_advisory_unlock(1953853541, 0);
      RAISE;
    END;

    -- The event columns side by side, the n-th element of each array being the n-th event's.
    INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at,
                        recorded_at, data, metadata, transaction_id)
      SELECT last_position - total + offsets[e.owner] + (e.n - firsts[e.owner]) + 1, e.id,
             p_streams[e.owner], coalesce(revisions[e.owner], -1) + (e.n - firsts[e.owner]) + 1,
             e.type, p_schema_version, e.occurred_at, p_recorded_at[e.owner], e.data,
             e.metadata, xact
      FROM ROWS FROM (unnest(p_owners), unnest(p_ids), unnest(p_types), unnest(p_occurred_at),
                      jsonb_array_elements(p_data), jsonb_array_elements(p_metadata))
             WITH ORDINALITY AS e(owner, id, type, occurred_at, data, metadata, n)
      WHERE accepted[e.owner];

    FOR k IN 1 .. g LOOP
      CONTINUE WHEN NOT accepted[k];
      append_index := k;
      outcome := 'appended';
      stream_revision := coalesce(revisions[k], -1) + 1;
      "position" := last_position - total + offsets[k] + p_counts[k];
      RETURN NEXT;
    END LOOP;
  END
  $append$;
  `,
  `
  -- The append as before, a lone append taking its keys without a statement. Every statement a
  -- plpgsql function runs costs the server an executor's start and end and a snapshot besides
  -- its own work, and the keys' statement (a union, a grouping, a sort) cost a lone guarded
  -- append, a report's, about a tenth of its server time: its one or two keys are now taken in
  -- ascending order by plain expressions, as a group's are by the statement. Outcomes and every
  -- rule are the previous step's, unchanged.
  CREATE OR REPLACE FUNCTION truceline_append_columns(
    p_streams text[],
    p_expected text[],
    p_recorded_at timestamptz[],
    p_counts integer[],
    p_owners integer[],
    p_ids uuid[],
    p_types text[],
    p_occurred_at timestamptz[],
    p_data jsonb,
    p_metadata jsonb,
    p_schema_version integer,
    p_guard_stream text,
    p_guard_expected integer[]
  ) RETURNS TABLE (
    append_index integer,
    outcome text,
    stream_revision integer,
    "position" bigint,
    event text
  ) LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
  AS $append$
  #variable_conflict use_column
  DECLARE
    g integer := cardinality(p_streams);
    revisions integer[];
    guard_revision integer;
    -- Per append: whether its expected revision holds, and whether its ids are looked up.
    holds boolean[] := array_fill(false, ARRAY[g]);
    checked boolean[] := array_fill(false, ARRAY[g]);
    any_checked boolean := false;
    stored boolean[] := array_fill(false, ARRAY[g]);
    accepted boolean[] := array_fill(false, ARRAY[g]);
    -- Per append: the index of its first event in the event columns, and how many events of
    -- accepted appends come before it (its positions follow those).
    firsts integer[] := array_fill(0, ARRAY[g]);
    offsets integer[] := array_fill(0, ARRAY[g]);
    total integer := 0;
    next_first integer := 1;
    last_position bigint;
    xact xid8;
    unlocked boolean;
    stream_key integer;
    guard_key integer;
    locked text;
    k integer;
  BEGIN
    -- Appends to one stream queue here until COMMIT (a stream's revision order is its position
    -- order); appends to other streams go on. An advisory lock, not a row lock: taking it gives
    -- the transaction no id yet (see below). The guard stream's key is taken too, shared: an
    -- append to the guard stream (an adoption) holds it exclusively until COMMIT, so a guarded
    -- append waits for one in flight and then reads it, and an adoption waits for the guarded
    -- appends in flight, whose positions then come before its own. All keys are taken in
    -- ascending order, so two groups never wait on each other crosswise.
    IF g = 1 THEN
      -- A lone append's key and its guard's (none when p_guard_stream is null, one when both
      -- hash alike, as the grouping below makes it), by assignments: no statement to run.
      stream_key := hashtext(p_streams[1]);
      guard_key := hashtext(p_guard_stream);
      IF guard_key < stream_key THEN
        locked := pg_advisory_xact_lock_shared(1953853540, guard_key)::text;
      END IF;
      locked := pg_advisory_xact_lock(1953853540, stream_key)::text;
      IF guard_key > stream_key THEN
        locked := pg_advisory_xact_lock_shared(1953853540, guard_key)::text;
      END IF;
    ELSE
      PERFORM CASE WHEN keys.exclusive THEN pg_advisory_xact_lock(1953853540, keys.h)::text
                   ELSE pg_advisory_xact_lock_shared(1953853540, keys.h)::text END
        FROM (SELECT k.h, bool_or(k.exclusive) AS exclusive
                FROM (SELECT hashtext(s) AS h, true AS exclusive FROM unnest(p_streams) s
                      UNION ALL
                      SELECT hashtext(p_guard_stream), false WHERE p_guard_stream IS NOT NULL) k
               GROUP BY k.h ORDER BY k.h) keys;
    END IF;

    -- Read after the locks, in a statement of its own: its snapshot shows every append to these
    -- streams that committed before the locks were granted. A stream's revision is its last
    -- event's, found at the end of the (stream_id, revision) index.
    revisions := ARRAY(SELECT (SELECT max(e.revision) FROM events e WHERE e.stream_id = u.stream)
                       FROM unnest(p_streams) WITH ORDINALITY AS u(stream, ord) ORDER BY u.ord);
    IF p_guard_stream IS NOT NULL THEN
      guard_revision := (SELECT max(e.revision) FROM events e WHERE e.stream_id = p_guard_stream);
    END IF;

    FOR k IN 1 .. g LOOP
      holds[k] := p_expected[k] = 'any'
        OR (p_expected[k] = 'no-stream' AND revisions[k] IS NULL)
        OR (p_expected[k] = 'exists' AND revisions[k] IS NOT NULL)
        OR p_expected[k] = coalesce(revisions[k]::text, 'no-stream');
      -- Not an append that creates its stream (see above).
      checked[k] := NOT (p_expected[k] = 'no-stream' AND revisions[k] IS NULL);
      any_checked := any_checked OR checked[k];
    END LOOP;

    -- Retried appends are answered with what is stored, before any revision check: each event
    -- as the envelope a replay reads (timestamps in ISO 8601 in years 1 to 9999, else
    -- milliseconds since 1970).
    IF any_checked THEN
      FOR append_index, "position", event IN
        SELECT p_owners[array_position(p_ids, e.id)], e.position,
               concat('{"id":"', e.id, '","type":', to_json(e.type),
                 ',"schemaVersion":', e.schema_version, ',"streamId":', to_json(e.stream_id),
                 ',"revision":', e.revision, ',"position":', e.position,
                 ',"occurredAt":',
                 CASE WHEN e.occurred_at >= '0001-01-01T00:00:00Z'
                       AND e.occurred_at < '10000-01-01T00:00:00Z'
                   THEN to_json(e.occurred_at AT TIME ZONE 'UTC')
                   ELSE to_json(floor(extract(epoch FROM e.occurred_at) * 1000)) END,
                 ',"recordedAt":',
                 CASE WHEN e.recorded_at >= '0001-01-01T00:00:00Z'
                       AND e.recorded_at < '10000-01-01T00:00:00Z'
                   THEN to_json(e.recorded_at AT TIME ZONE 'UTC')
                   ELSE to_json(floor(extract(epoch FROM e.recorded_at) * 1000)) END,
                 ',"data":', e.data, ',"metadata":', e.metadata, '}')
        FROM events e
        WHERE e.id = ANY (ARRAY(SELECT c.id FROM unnest(p_owners, p_ids) AS c(owner, id)
                                WHERE checked[c.owner]))
        ORDER BY e.position
      LOOP
        outcome := 'stored';
        stored[append_index] := true;
        RETURN NEXT;
      END LOOP;
      "position" := NULL; event := NULL;
    END IF;

    FOR k IN 1 .. g LOOP
      firsts[k] := next_first;
      next_first := next_first + p_counts[k];
      CONTINUE WHEN stored[k];
      IF p_guard_expected[k] IS NOT NULL
         AND p_guard_expected[k] IS DISTINCT FROM coalesce(guard_revision, -1) THEN
        append_index := k;
        outcome := 'guard-moved';
        stream_revision := guard_revision;
        RETURN NEXT;
        CONTINUE;
      END IF;
      IF holds[k] THEN
        accepted[k] := true;
        offsets[k] := total;
        total := total + p_counts[k];
      ELSE
        append_index := k;
        outcome := 'conflict';
        stream_revision := revisions[k];
        RETURN NEXT;
      END IF;
    END LOOP;
    IF total = 0 THEN
      RETURN;
    END IF;

    -- The transaction's id and the group's positions are taken together under one lock,
    -- released at once: of two appends, the one with the lower transaction id holds the lower
    -- positions. Nothing above wrote, so the transaction has no id before this point. One
    -- statement: the lock (outer side of the join, which the lateral reference fixes), then
    -- the positions and the id, then the unlock, projected from the one row they make.
    BEGIN
      SELECT t.last, t.xact, pg_advisory_unlock(1953853541, 0)
        INTO last_position, xact, unlocked
        FROM (SELECT pg_advisory_lock(1953853541, 0)::text) AS l(locked),
        LATERAL (SELECT max(nextval('event_positions')) AS last, pg_current_xact_id() AS xact
                 FROM generate_series(1, total + length(l.locked))) t;
    EXCEPTION WHEN OTHERS OR QUERY_CANCELED THEN
      -- A session lock outlives the transaction: never leave it behind.
      PERFORM pg_advisory_unlock(1953853541, 0);
      RAISE;
    END;

    -- The event columns side by side, the n-th element of each array being the n-th event's.
    INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at,
                        recorded_at, data, metadata, transaction_id)
      SELECT last_position - total + offsets[e.owner] + (e.n - firsts[e.owner]) + 1, e.id,
             p_streams[e.owner], coalesce(revisions[e.owner], -1) + (e.n - firsts[e.owner]) + 1,
             e.type, p_schema_version, e.occurred_at, p_recorded_at[e.owner], e.data,
             e.metadata, xact
      FROM ROWS FROM (unnest(p_owners), unnest(p_ids), unnest(p_types), unnest(p_occurred_at),
                      jsonb_array_elements(p_data), jsonb_array_elements(p_metadata))
             WITH ORDINALITY AS e(owner, id, type, occurred_at, data, metadata, n)
      WHERE accepted[e.owner];

    FOR k IN 1 .. g LOOP
      CONTINUE WHEN NOT accepted[k];
      append_index := k;
      outcome := 'appended';
      stream_revision := coalesce(revisions[k], -1) + 1;
      "position" := last_position - total + offsets[k] + p_counts[k];
      RETURN NEXT;
    END LOOP;
  END
  $append$;
  `,
];
