-- A person's data, for `wabahook people export` (processors/person_export.py).

-- name: export_may_run
-- Only the owner login (the one that runs `migrate`, or a member of its role) exports
-- or erases people: the console, analyst, receiver and processor roles do not.
SELECT pg_has_role(current_user, n.nspowner, 'MEMBER') AS owner
FROM pg_namespace n WHERE n.nspname = 'wabahook';

-- name: export_person_ids
-- The people an identifier of one kind belongs to (a person id is one of its person's
-- identifiers, current or earlier).
SELECT DISTINCT person_id FROM wabahook.person_ids
WHERE kind = ANY(%(kinds)s) AND identifier = %(identifier)s
ORDER BY person_id;

-- name: export_views
-- Every public view that names a person: the rows exported are theirs.
SELECT c.table_name AS view,
       bool_or(c2.column_name = 'raw_event_id') AS has_raw_event_id,
       bool_or(c2.column_name = 'message_id') AS has_message_id
FROM information_schema.columns c
JOIN information_schema.views v USING (table_schema, table_name)
LEFT JOIN information_schema.columns c2
       ON (c2.table_schema, c2.table_name) = (c.table_schema, c.table_name)
      AND c2.column_name IN ('raw_event_id', 'message_id')
WHERE c.table_schema = 'wabahook' AND c.column_name = 'person_id'
GROUP BY c.table_name
ORDER BY c.table_name;

-- name: export_events
-- The stored deliveries the person's rows came from.
SELECT id AS raw_event_id, channel, received_at, content_type,
       encode(body_sha256, 'hex') AS body_sha256, body
FROM wabahook.raw_events
WHERE id = ANY(%(ids)s)
ORDER BY id;

-- name: export_snapshot
-- Every view read as of one moment.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY;

-- name: export_view_rows
-- The person's rows of the view {view}.
SELECT * FROM wabahook.{view} WHERE person_id = %(person_id)s;

-- name: person_message_ids
-- The ids of the messages in the person's rows of the view {view}.
SELECT DISTINCT message_id FROM wabahook.{view}
WHERE person_id = %(person_id)s AND message_id IS NOT NULL;

-- name: export_view_shared
-- The events %(ids)s some other person's rows of the view {view} came from too.
SELECT DISTINCT raw_event_id FROM wabahook.{view}
WHERE raw_event_id = ANY(%(ids)s) AND person_id IS DISTINCT FROM %(person_id)s
  AND person_id IS NOT NULL;
