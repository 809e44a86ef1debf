-- Relay: every stored event handed on to the team's own application (a destination),
-- signed, retried and logged.

-- The transaction that stored each event. Event ids come from a sequence and commit
-- out of order, so "every event up to id N" is no safe cursor; "every event of a
-- transaction older than the oldest one still storing events" is. Events stored before this
-- migration have none (NULL): destinations start at their creation, and stored events
-- reach them through an explicit replay. BRIN: the ids of transactions grow with the
-- table, so a block range index answers "the newest ones" for next to nothing at intake
-- (as bigint: xid8 has no BRIN operator class; a 64-bit transaction id fits).
ALTER TABLE wabahook.raw_events ADD COLUMN stored_xid bigint;
ALTER TABLE wabahook.raw_events
    ALTER COLUMN stored_xid SET DEFAULT pg_current_xact_id()::text::bigint;
CREATE INDEX raw_events_stored_xid ON wabahook.raw_events USING brin (stored_xid);

CREATE TABLE wabahook.destinations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    url             text NOT NULL,
    format          text NOT NULL CHECK (format IN ('raw', 'facts')),
    channels        text[] NOT NULL DEFAULT '{}',  -- empty: every channel
    kinds           text[] NOT NULL DEFAULT '{}',  -- facts only; empty: every kind
    max_in_flight   integer NOT NULL DEFAULT 8 CHECK (max_in_flight BETWEEN 1 AND 256),
    max_age         interval NOT NULL DEFAULT '3 days',
    timeout_seconds real NOT NULL DEFAULT 10,
    ordered         boolean NOT NULL DEFAULT false,
    allow_addresses text[] NOT NULL DEFAULT '{}',
    paused          boolean NOT NULL DEFAULT false,
    -- Events of transactions below this one have their deliveries queued (raw format).
    horizon         bigint NOT NULL
                    DEFAULT pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Signing secrets (whsec_…), sealed with WABAHOOK_SECRET_KEY; two valid during a rotation.
CREATE TABLE wabahook.destination_secrets (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    destination_id bigint NOT NULL REFERENCES wabahook.destinations ON DELETE CASCADE,
    sealed         bytea NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz
);
CREATE INDEX destination_secrets_destination ON wabahook.destination_secrets (destination_id);

-- One row per event (or, later, fact) and destination: its state and last attempt.
CREATE TABLE wabahook.relay_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    destination_id  bigint NOT NULL REFERENCES wabahook.destinations ON DELETE CASCADE,
    raw_event_id    bigint NOT NULL,
    fact_key        text NOT NULL DEFAULT '',  -- '' for a raw delivery
    channel         text NOT NULL,
    stored_at       timestamptz NOT NULL,
    -- --max-age counts from here: when the event was stored, or when a retry revived it.
    age_from        timestamptz NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'retrying', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    last_status     integer,
    last_error      text,
    last_attempt_at timestamptz,
    delivered_at    timestamptz,
    payload         jsonb,  -- a fact's JSON object (format facts); NULL: the stored bytes
    UNIQUE (destination_id, raw_event_id, fact_key)
);
-- A fact is sent once per destination, whichever event carried it (a sender's retry of
-- a body, a replay).
CREATE UNIQUE INDEX relay_deliveries_fact ON wabahook.relay_deliveries (destination_id, fact_key)
    WHERE fact_key <> '';
CREATE INDEX relay_deliveries_due ON wabahook.relay_deliveries (next_attempt_at)
    WHERE state IN ('pending', 'retrying');
CREATE INDEX relay_deliveries_event ON wabahook.relay_deliveries (raw_event_id);
