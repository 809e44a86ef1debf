-- The person an identifier belongs to (kind 'phone', 'user' or 'parent'), else NULL: the
-- person_id of wabahook.people, for rows that name someone by one identifier.
CREATE OR REPLACE FUNCTION wabahook.person_of(kind text, identifier text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.person_id
    FROM wabahook.person_identifier i
    JOIN wabahook.person p USING (component)
    WHERE i.kind = $1 AND i.identifier = $2
$$;
