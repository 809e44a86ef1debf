-- Intake: channels, their credentials, the raw event store and the work queue.

CREATE SCHEMA IF NOT EXISTS wabahook;

-- One channel is one WhatsApp phone number with its own webhook URL and credentials.
CREATE TABLE wabahook.channels (
    name         text PRIMARY KEY CHECK (name ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
    phone_number text,
    enabled      boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Basic-auth credentials: only a SHA-256 digest of each generated secret is kept.
-- Two rows may be valid at once while a rotation is under way.
CREATE TABLE wabahook.channel_credentials (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel       text NOT NULL REFERENCES wabahook.channels (name),
    username      text NOT NULL,
    secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz
);
CREATE INDEX channel_credentials_channel ON wabahook.channel_credentials (channel);

-- Every accepted delivery, byte for byte. Rows are never updated; retention drops
-- whole monthly partitions, so nothing that must outlive a month refers to them.
CREATE SEQUENCE wabahook.raw_events_id_seq AS bigint;
CREATE TABLE wabahook.raw_events (
    id           bigint NOT NULL DEFAULT nextval('wabahook.raw_events_id_seq'),
    channel      text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    body         bytea NOT NULL,
    body_sha256  bytea NOT NULL,
    content_type text,
    headers      jsonb NOT NULL DEFAULT '{}',
    client_addr  inet,
    request_id   text NOT NULL,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
ALTER SEQUENCE wabahook.raw_events_id_seq OWNED BY wabahook.raw_events.id;

-- Catches anything outside the prepared months so that intake never fails on a
-- missing partition; ensure_raw_event_partitions() moves such rows out again.
CREATE TABLE wabahook.raw_events_default PARTITION OF wabahook.raw_events DEFAULT;

-- The exact bytes are the point of the store: no UPDATE may change a stored event.
CREATE FUNCTION wabahook.refuse_raw_event_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'raw events are immutable (event %)', OLD.id
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER raw_events_immutable BEFORE UPDATE ON wabahook.raw_events
    FOR EACH ROW EXECUTE FUNCTION wabahook.refuse_raw_event_update();

CREATE INDEX raw_events_channel_received ON wabahook.raw_events (channel, received_at);
CREATE INDEX raw_events_body_sha256 ON wabahook.raw_events (channel, body_sha256);

-- The work queue (transactional outbox): written in the same statement as the raw
-- event, removed in the transaction that projects it. Not partitioned and without a
-- foreign key, so dropping an old partition never touches pending work.
CREATE TABLE wabahook.event_queue (
    raw_event_id bigint PRIMARY KEY,
    received_at  timestamptz NOT NULL,
    channel      text NOT NULL,
    queued_at    timestamptz NOT NULL DEFAULT now(),
    not_before   timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text
);
CREATE INDEX event_queue_not_before ON wabahook.event_queue (not_before, raw_event_id);

-- Creates the monthly partitions of raw_events from this month to `months_ahead`
-- months ahead (UTC) and moves any rows the default partition holds for them.
CREATE FUNCTION wabahook.ensure_raw_event_partitions(months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamp;
    lower_bound timestamptz;
    upper_bound timestamptz;
    partition   text;
    created     integer := 0;
BEGIN
    FOR step IN 0..months_ahead LOOP
        month_start := date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => step);
        lower_bound := month_start AT TIME ZONE 'UTC';
        upper_bound := (month_start + interval '1 month') AT TIME ZONE 'UTC';
        partition := 'raw_events_' || to_char(month_start, 'YYYY_MM');
        CONTINUE WHEN to_regclass(format('wabahook.%I', partition)) IS NOT NULL;

        EXECUTE format('CREATE TABLE wabahook.%I (LIKE wabahook.raw_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition);
        EXECUTE format(
            'WITH moved AS (DELETE FROM wabahook.raw_events_default WHERE received_at >= %L AND received_at < %L RETURNING *)
             INSERT INTO wabahook.%I SELECT * FROM moved',
            lower_bound, upper_bound, partition);
        EXECUTE format('ALTER TABLE wabahook.raw_events ATTACH PARTITION wabahook.%I FOR VALUES FROM (%L) TO (%L)',
            partition, lower_bound, upper_bound);
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;
