-- Numbers apart (SPEC §5): which business numbers (phone number ids) and WABAs each
-- channel delivers, so that one channel fed by a Meta app or a WABA-level webhook can
-- be read number by number.

-- One row per (channel, phone number id, WABA id) named by a notification's metadata;
-- waba_id is '' for a body whose entry had no id. Self-contained, like every projection
-- table, so that a rebuild can copy it with LIKE.
CREATE TABLE wabahook.phone_number (
    channel              text NOT NULL,
    phone_number_id      text NOT NULL,
    waba_id              text NOT NULL,
    display_phone_number text,
    display_key          text,              -- wabahook.fact_key(latest time, display number)
    first_seen_at        timestamptz,       -- the earliest and latest time its notifications
    last_seen_at         timestamptz,       -- carry (NULL when none carried a time)
    first_raw_event_id   bigint NOT NULL,
    PRIMARY KEY (channel, phone_number_id, waba_id)
);
CREATE INDEX phone_number_id ON wabahook.phone_number (phone_number_id);

-- The daily analytics functions gain an optional phone number id to narrow them to one
-- number; a function's arguments change only by dropping it (its views are re-created
-- from sql/views after every migrate).
DROP FUNCTION IF EXISTS wabahook.delivery_funnel_daily_in(text) CASCADE;
DROP FUNCTION IF EXISTS wabahook.delivery_latency_daily_in(text) CASCADE;
DROP FUNCTION IF EXISTS wabahook.conversations_daily_in(text) CASCADE;
DROP FUNCTION IF EXISTS wabahook.failures_daily_in(text) CASCADE;
DROP FUNCTION IF EXISTS wabahook.pricing_daily_in(text) CASCADE;
