-- The exact bytes are the point of the store: no UPDATE may change a stored event, but
-- to take one person out of a body (`wabahook people erase`), changing the body, its
-- digest and redacted_at alone: by the owner login, within an erasure under way named by
-- the session's `wabahook.erasing`; or by anyone, to the rewritten body of an erased
-- event whose bytes these are (a sender's retry of an erased delivery), nothing else.
-- Trigger raw_events_immutable (0001) runs it on raw_events and every partition.
CREATE OR REPLACE FUNCTION wabahook.refuse_raw_event_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    body_alone boolean := NEW.redacted_at IS NOT NULL
        AND NEW.body_sha256 = pg_catalog.sha256(NEW.body)
        AND (NEW.id, NEW.channel, NEW.received_at, NEW.content_type, NEW.headers,
             NEW.client_addr, NEW.request_id)
            IS NOT DISTINCT FROM
            (OLD.id, OLD.channel, OLD.received_at, OLD.content_type, OLD.headers,
             OLD.client_addr, OLD.request_id);
BEGIN
    IF body_alone AND (
        (coalesce(current_setting('wabahook.erasing', true), '') <> ''
         AND pg_has_role(current_user, (SELECT nspowner FROM pg_catalog.pg_namespace
                                        WHERE nspname = 'wabahook'), 'MEMBER')
         AND EXISTS (SELECT FROM wabahook.erasure e
                     WHERE e.id::text = current_setting('wabahook.erasing', true)
                       AND e.completed_at IS NULL))
        OR NEW.body = wabahook.erased_body(OLD.body_sha256))
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'raw events are immutable (event %)', OLD.id
        USING ERRCODE = 'restrict_violation';
END
$$;
