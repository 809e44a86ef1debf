-- A status of a group message is one per participant: the participant becomes part of
-- a status's identity ("" for a one-to-one message), so two participants' `delivered`
-- at the same second are two rows.

ALTER TABLE wabahook.status_event
    ADD COLUMN recipient_type text,
    ADD COLUMN participant_id text,
    ADD COLUMN participant_user_id text,
    ADD COLUMN participant text NOT NULL DEFAULT '';

-- The key's name is found, not assumed: a table a rebuild swapped in has its own.
DO $$
DECLARE
    key_name name;
BEGIN
    SELECT conname INTO key_name FROM pg_catalog.pg_constraint
    WHERE conrelid = 'wabahook.status_event'::pg_catalog.regclass AND contype = 'p';
    EXECUTE format('ALTER TABLE wabahook.status_event DROP CONSTRAINT %I', key_name);
END
$$;
ALTER TABLE wabahook.status_event
    ADD PRIMARY KEY (channel, message_id, status, status_at, participant);
