-- Statuses name their recipient by business-scoped user id too (2026): a customer who
-- uses a username may have no phone number in the notification at all.

ALTER TABLE wabahook.status_event
    ADD COLUMN recipient_user_id text,
    ADD COLUMN recipient_parent_user_id text;

-- Each message's delivery keeps them too, from the earliest status that names them (as
-- recipient_id). The facts grow at their end, in the type and in the table alike, as in
-- 0015: CASCADE adds them to the table while it is a typed table; a rebuilt copy is a
-- plain table, which gets them by hand.
ALTER TYPE wabahook.delivery_facts
    ADD ATTRIBUTE recipient_user_id text CASCADE,
    ADD ATTRIBUTE recipient_parent_user_id text CASCADE,
    ADD ATTRIBUTE recipient_user_key text CASCADE;       -- which status they came from

DO $$
BEGIN
    IF (SELECT reloftype = 0 FROM pg_catalog.pg_class
        WHERE oid = 'wabahook.message_delivery'::pg_catalog.regclass) THEN
        ALTER TABLE wabahook.message_delivery
            ADD COLUMN recipient_user_id text,
            ADD COLUMN recipient_parent_user_id text,
            ADD COLUMN recipient_user_key text;
    END IF;
END
$$;
