-- Edits and revokes of inbound messages, and business-scoped user ids (SPEC §5).

-- Business-scoped user ids (2026): a customer who adopts a username may reach us with
-- wa_id "" and a user_id ("user.…"/"US.…") only; profiles may carry a username.
ALTER TABLE wabahook.inbound_message
    ADD COLUMN user_id text,
    ADD COLUMN parent_user_id text,
    ADD COLUMN username text;

-- A contact's ids and username come from its latest sighting that carried any of them
-- (identity_key), its phone_number_id from its latest notification (phone_key). The
-- contact table is a typed table: CASCADE gives it the new columns too.
ALTER TYPE wabahook.contact_facts
    ADD ATTRIBUTE user_id text CASCADE,
    ADD ATTRIBUTE parent_user_id text CASCADE,
    ADD ATTRIBUTE username text CASCADE,
    ADD ATTRIBUTE identity_key text CASCADE,
    ADD ATTRIBUTE phone_number_id text CASCADE,
    ADD ATTRIBUTE phone_key text CASCADE;

-- Merges two sightings of one contact: first and last seen, and the profile name, the
-- ids and the phone number id of the latest sightings that carried them. Commutative,
-- associative and idempotent: every key orders by time and then names its value.
CREATE OR REPLACE FUNCTION wabahook.merge_contact(a wabahook.contact_facts, b wabahook.contact_facts)
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
    IF b.identity_key IS NOT NULL AND (a.identity_key IS NULL OR b.identity_key > a.identity_key) THEN
        m.user_id := b.user_id;
        m.parent_user_id := b.parent_user_id;
        m.username := b.username;
        m.identity_key := b.identity_key;
    END IF;
    IF b.phone_key IS NOT NULL AND (a.phone_key IS NULL OR b.phone_key > a.phone_key) THEN
        m.phone_number_id := b.phone_number_id;
        m.phone_key := b.phone_key;
    END IF;
    RETURN m;
END
$$;

-- One row per edit or revoke notification (a customer edited or deleted a message
-- they sent), keyed by the notification's own id; message_id names the original.
-- Kept apart from inbound_message so that an edit may arrive before its original:
-- the public views join them, whatever the order.
CREATE TABLE wabahook.message_change (
    channel           text NOT NULL,
    change_message_id text NOT NULL,
    message_id        text NOT NULL,
    change            text NOT NULL,   -- 'edit' or 'revoke'
    changed_at        timestamptz NOT NULL,
    wa_id             text,
    user_id           text,
    phone_number_id   text,
    text              text,            -- of the edited message (as messages_inbound.text)
    payload           jsonb NOT NULL,  -- the edit or revoke message object
    raw_event_id      bigint NOT NULL,
    received_at       timestamptz NOT NULL,
    PRIMARY KEY (channel, change_message_id)
);
CREATE INDEX message_change_original ON wabahook.message_change (channel, message_id);
