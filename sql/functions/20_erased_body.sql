-- What erasures made of the bytes whose SHA-256 is `original`: the body, as it is now
-- (a later erasure may have rewritten it again), of an erased event that had them; NULL
-- when no erasure rewrote such bytes. A sender's retry of an erased delivery is read as
-- this, never as it came.
CREATE OR REPLACE FUNCTION wabahook.erased_body(original bytea) RETURNS bytea
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT y.body
    FROM wabahook.erasure_event ee
    JOIN wabahook.raw_events y
      ON y.id = ee.raw_event_id AND y.received_at = ee.received_at
    WHERE ee.original_sha256 = $1 AND ee.redacted_sha256 <> ee.original_sha256
      AND y.body_sha256 <> ee.original_sha256  -- rewritten by now (not mid re-rewrite)
    ORDER BY ee.erasure_id DESC
    LIMIT 1
$$;
