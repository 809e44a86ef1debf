-- The exact bytes are the point of the store: no UPDATE may change a stored event.
-- Trigger raw_events_immutable (0001) runs it on raw_events and every partition.
CREATE OR REPLACE FUNCTION wabahook.refuse_raw_event_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'raw events are immutable (event %)', OLD.id
        USING ERRCODE = 'restrict_violation';
END
$$;
