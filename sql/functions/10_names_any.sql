-- Whether a JSON document holds one of `exact` as a whole value, or one of `words` as a
-- word of a text value ("changed from 15550100001 to …"); keys never count. How an
-- erasure finds the rows kept of bodies retention deleted that name the person
-- (processors/pipeline/rebuild_keep.py).
CREATE OR REPLACE FUNCTION wabahook.names_any(doc jsonb, exact text[], words text[])
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT EXISTS (
        SELECT FROM jsonb_path_query(doc, 'strict $.**') AS v
        WHERE jsonb_typeof(v) IN ('string', 'number')
          AND (v #>> '{}' = ANY (exact)
               OR EXISTS (SELECT FROM regexp_split_to_table(v #>> '{}', '[^0-9A-Za-z_.]+') AS w
                          WHERE rtrim(w, '.') = ANY (words))))
$$;
