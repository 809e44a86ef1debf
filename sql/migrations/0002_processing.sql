-- Processing: the outcome of each raw event and the projections behind the public views.

-- What became of a raw event once processed: projected, or rejected for good.
-- (Events still waiting, or failing and waiting for a retry, are in event_queue.)
CREATE TABLE wabahook.event_results (
    raw_event_id bigint PRIMARY KEY,
    channel      text NOT NULL,
    received_at  timestamptz NOT NULL,
    state        text NOT NULL CHECK (state IN ('processed', 'rejected')),
    error        text,
    format       text,
    attempts     integer NOT NULL DEFAULT 1,
    notes        jsonb NOT NULL DEFAULT '{}',
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_results_received ON wabahook.event_results (received_at);
CREATE INDEX event_results_rejected ON wabahook.event_results (raw_event_id) WHERE state = 'rejected';

-- Failing events wait in the queue with their error; this finds them quickly.
CREATE INDEX event_queue_failed ON wabahook.event_queue (raw_event_id) WHERE last_error IS NOT NULL;

-- Projections. Every row remembers the lowest raw event that produced it, so any
-- order and any number of repetitions of the same events give the same rows.
CREATE TABLE wabahook.inbound_message (
    channel            text NOT NULL,
    message_id         text NOT NULL,
    wa_id              text,
    type               text,
    sent_at            timestamptz,
    phone_number_id    text,
    text               text,
    context_message_id text,
    contact_name       text,
    payload            jsonb NOT NULL,
    raw_event_id       bigint NOT NULL,
    received_at        timestamptz NOT NULL,
    PRIMARY KEY (channel, message_id)
);
CREATE INDEX inbound_message_sent ON wabahook.inbound_message (sent_at);

CREATE TABLE wabahook.status_event (
    channel               text NOT NULL,
    message_id            text NOT NULL,
    status                text NOT NULL,
    status_at             timestamptz NOT NULL,
    phone_number_id       text,
    recipient_id          text,
    conversation_id       text,
    conversation_category text,
    pricing_category      text,
    pricing_model         text,
    billable              boolean,
    error_codes           integer[] NOT NULL DEFAULT '{}',
    payload               jsonb NOT NULL,
    raw_event_id          bigint NOT NULL,
    received_at           timestamptz NOT NULL,
    PRIMARY KEY (channel, message_id, status, status_at)
);
CREATE INDEX status_event_at ON wabahook.status_event (status_at);

-- Delivery facts per message, merged commutatively (see merge_delivery) so that the
-- current status never depends on the order in which statuses arrived. The facts
-- are a type of their own so that a table of the same shape in another schema (a
-- rebuild) merges with the same functions.
CREATE TYPE wabahook.delivery_facts AS (
    channel          text,
    message_id       text,
    sent_at          timestamptz,
    delivered_at     timestamptz,
    read_at          timestamptz,
    played_at        timestamptz,
    failed_at        timestamptz,
    deleted_at       timestamptz,
    progress_rank    smallint,         -- 1 sent, 2 delivered, 3 read, 4 played
    progress_at      timestamptz,      -- the latest progress status
    error_codes      integer[],        -- of the latest failure
    recipient_id     text,
    recipient_key    text,             -- which status recipient_id came from
    conversation_id  text,
    pricing_category text,
    billable         boolean,
    billing_key      text,             -- which status the billing fields came from
    first_status_at  timestamptz
);
CREATE TABLE wabahook.message_delivery OF wabahook.delivery_facts (
    channel WITH OPTIONS NOT NULL,
    message_id WITH OPTIONS NOT NULL,
    error_codes WITH OPTIONS NOT NULL DEFAULT '{}',
    PRIMARY KEY (channel, message_id)
);
CREATE INDEX message_delivery_first_status ON wabahook.message_delivery (first_status_at);

CREATE TYPE wabahook.contact_facts AS (
    channel       text,
    wa_id         text,
    profile_name  text,
    profile_key   text,                -- which message the name came from
    first_seen_at timestamptz,
    last_seen_at  timestamptz
);
CREATE TABLE wabahook.contact OF wabahook.contact_facts (
    channel WITH OPTIONS NOT NULL,
    wa_id WITH OPTIONS NOT NULL,
    PRIMARY KEY (channel, wa_id)
);

CREATE TABLE wabahook.notification_error (
    channel      text NOT NULL,
    body_sha256  bytea NOT NULL,
    position     integer NOT NULL,
    code         integer,
    title        text,
    details      jsonb NOT NULL,
    raw_event_id bigint NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (channel, body_sha256, position)
);
CREATE INDEX notification_error_received ON wabahook.notification_error (received_at);

-- Orders "which status did this value come from": earliest time first, then status name.
CREATE FUNCTION wabahook.fact_key(at timestamptz, tiebreak text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(extract(epoch FROM at)::bigint + 100000000000, 'FM000000000000') || ':' || tiebreak
$$;

-- Takes the earlier of two (key, value) facts; NULL keys lose.
CREATE FUNCTION wabahook.earlier_key(a_key text, b_key text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT b_key IS NOT NULL AND (a_key IS NULL OR b_key < a_key)
$$;

-- Merges two delivery records of one message. Commutative, associative and
-- idempotent: the result does not depend on order or repetition.
CREATE FUNCTION wabahook.merge_delivery(a wabahook.delivery_facts, b wabahook.delivery_facts)
RETURNS wabahook.delivery_facts
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    m wabahook.delivery_facts := a;
BEGIN
    m.sent_at := least(a.sent_at, b.sent_at);
    m.delivered_at := least(a.delivered_at, b.delivered_at);
    m.read_at := least(a.read_at, b.read_at);
    m.played_at := least(a.played_at, b.played_at);
    m.deleted_at := least(a.deleted_at, b.deleted_at);
    m.first_status_at := least(a.first_status_at, b.first_status_at);
    m.progress_rank := greatest(a.progress_rank, b.progress_rank);
    m.progress_at := greatest(a.progress_at, b.progress_at);
    m.failed_at := greatest(a.failed_at, b.failed_at);
    m.error_codes := CASE
        WHEN a.failed_at IS NOT DISTINCT FROM b.failed_at THEN
            ARRAY(SELECT DISTINCT c FROM unnest(a.error_codes || b.error_codes) c ORDER BY c)
        WHEN b.failed_at IS NOT NULL AND (a.failed_at IS NULL OR b.failed_at > a.failed_at) THEN b.error_codes
        ELSE a.error_codes END;
    IF wabahook.earlier_key(a.recipient_key, b.recipient_key) THEN
        m.recipient_id := b.recipient_id;
        m.recipient_key := b.recipient_key;
    END IF;
    IF wabahook.earlier_key(a.billing_key, b.billing_key) THEN
        m.conversation_id := b.conversation_id;
        m.pricing_category := b.pricing_category;
        m.billable := b.billable;
        m.billing_key := b.billing_key;
    END IF;
    RETURN m;
END
$$;

CREATE AGGREGATE wabahook.merged_delivery(wabahook.delivery_facts) (
    SFUNC = wabahook.merge_delivery,
    STYPE = wabahook.delivery_facts
);

-- Merges two sightings of one contact: first and last seen, and the profile name of
-- the latest message that carried one.
CREATE FUNCTION wabahook.merge_contact(a wabahook.contact_facts, b wabahook.contact_facts)
RETURNS wabahook.contact_facts
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    m wabahook.contact_facts := a;
BEGIN
    m.first_seen_at := least(a.first_seen_at, b.first_seen_at);
    m.last_seen_at := greatest(a.last_seen_at, b.last_seen_at);
    IF b.profile_key IS NOT NULL AND (a.profile_key IS NULL OR b.profile_key > a.profile_key) THEN
        m.profile_name := b.profile_name;
        m.profile_key := b.profile_key;
    END IF;
    RETURN m;
END
$$;

CREATE AGGREGATE wabahook.merged_contact(wabahook.contact_facts) (
    SFUNC = wabahook.merge_contact,
    STYPE = wabahook.contact_facts
);

-- The current status of a message from its merged facts (SPEC §4): progress only
-- moves forward; failed wins when it is not older than the latest progress;
-- deleted is the status of a message that has nothing else.
CREATE FUNCTION wabahook.current_status(
    progress_rank smallint, progress_at timestamptz, failed_at timestamptz, deleted_at timestamptz
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN failed_at IS NOT NULL AND (progress_at IS NULL OR failed_at >= progress_at) THEN 'failed'
        WHEN progress_rank IS NOT NULL THEN (ARRAY['sent', 'delivered', 'read', 'played'])[progress_rank]
        WHEN deleted_at IS NOT NULL THEN 'deleted'
    END
$$;
