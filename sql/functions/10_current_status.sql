-- The current status of a message from its merged facts: progress only
-- moves forward; failed wins when it is not older than the latest progress;
-- deleted is the status of a message that has nothing else.
CREATE OR REPLACE FUNCTION wabahook.current_status(
    progress_rank smallint, progress_at timestamptz, failed_at timestamptz, deleted_at timestamptz
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN failed_at IS NOT NULL AND (progress_at IS NULL OR failed_at >= progress_at) THEN 'failed'
        WHEN progress_rank IS NOT NULL THEN (ARRAY['sent', 'delivered', 'read', 'played'])[progress_rank]
        WHEN deleted_at IS NOT NULL THEN 'deleted'
    END
$$;
