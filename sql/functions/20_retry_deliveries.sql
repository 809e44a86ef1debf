-- Sends deliveries again now: every dead one (of a destination), or those of the events
-- `ids` that are dead or waiting for a retry. A dead one gets its --max-age again, counted
-- from now. Returns how many. The statement of `wabahook deliveries retry` and of the
-- console's Retry button.
-- Rights: the owner's (SECURITY DEFINER, pinned search_path), so the console's role may
-- send deliveries again without the right to write them; only the processor and
-- wabahook_console may call it (sql/roles.sql).
CREATE OR REPLACE FUNCTION wabahook.retry_deliveries(
    destination text, ids bigint[], dead boolean
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    revived bigint;
BEGIN
    UPDATE wabahook.relay_deliveries r
    SET state = CASE WHEN r.state = 'dead' THEN 'retrying' ELSE r.state END,
        next_attempt_at = now(), leased_until = NULL,
        age_from = CASE WHEN r.state = 'dead' THEN now() ELSE r.age_from END
    FROM wabahook.destinations d
    WHERE d.id = r.destination_id
      AND (retry_deliveries.destination IS NULL OR d.name = retry_deliveries.destination)
      AND CASE WHEN retry_deliveries.dead THEN r.state = 'dead'
               ELSE r.raw_event_id = ANY (retry_deliveries.ids)
                    AND r.state IN ('dead', 'retrying')
          END;
    GET DIAGNOSTICS revived = ROW_COUNT;
    RETURN revived;
END
$$;
REVOKE ALL ON FUNCTION wabahook.retry_deliveries(text, bigint[], boolean) FROM PUBLIC;
