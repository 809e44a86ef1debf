-- People: joining identity links into persons (processors/pipeline/people.py). Each
-- query works on the schema {schema} (the live one, or a rebuild's).

-- name: people_pending_any
SELECT 1 FROM {schema}.identity_pending LIMIT 1;

-- name: people_lock
-- One joiner at a time per schema, until its transaction ends: joins read and relabel
-- whole persons. Taken last in a batch, after every other row lock it needs.
SELECT pg_advisory_xact_lock(hashtext('wabahook.people:' || %(schema)s));

-- name: people_take_pending
-- Taken under the lock: this transaction's own new links and any a failed join left.
DELETE FROM {schema}.identity_pending
RETURNING wa_id, user_id, parent_user_id, previous_wa_id, previous_user_id,
          previous_parent_user_id, raw_event_id, channel;

-- name: people_pending_keys
-- After a failed join: the links to try one at a time.
SELECT wa_id, user_id, parent_user_id, previous_wa_id, previous_user_id, previous_parent_user_id
FROM {schema}.identity_pending
ORDER BY 1, 2, 3, 4, 5, 6
LIMIT %(limit)s;

-- name: people_take_one
DELETE FROM {schema}.identity_pending
WHERE (wa_id, user_id, parent_user_id, previous_wa_id, previous_user_id, previous_parent_user_id)
    = (%(wa_id)s, %(user_id)s, %(parent_user_id)s, %(previous_wa_id)s, %(previous_user_id)s,
       %(previous_parent_user_id)s)
RETURNING wa_id, user_id, parent_user_id, previous_wa_id, previous_user_id,
          previous_parent_user_id, raw_event_id, channel;

-- name: people_known
-- The persons the given identifiers belong to, with each person's id and size.
SELECT i.kind, i.identifier, i.component, p.person_id, p.person_id_kind, p.size
FROM unnest(%(kinds)s::text[], %(identifiers)s::text[]) AS k (kind, identifier)
JOIN {schema}.person_identifier i USING (kind, identifier)
JOIN {schema}.person p USING (component);

-- name: people_new_components
SELECT nextval('wabahook.person_component') AS component
FROM generate_series(1, %(count)s);

-- name: people_relabel
-- Merged persons: the smaller side's identifiers move to the larger side's component.
UPDATE {schema}.person_identifier i SET component = m.target
FROM unnest(%(sources)s::bigint[], %(targets)s::bigint[]) AS m (source, target)
WHERE i.component = m.source;

-- name: people_drop
DELETE FROM {schema}.person WHERE component = ANY(%(components)s::bigint[]);

-- name: people_add_identifiers
INSERT INTO {schema}.person_identifier (kind, identifier, component)
SELECT * FROM unnest(%(kinds)s::text[], %(identifiers)s::text[], %(components)s::bigint[]);

-- name: people_put
INSERT INTO {schema}.person AS p (component, person_id, person_id_kind, size)
SELECT * FROM unnest(%(components)s::bigint[], %(person_ids)s::text[], %(kinds)s::text[],
                     %(sizes)s::integer[])
ON CONFLICT (component) DO UPDATE SET
    (person_id, person_id_kind, size) = (excluded.person_id, excluded.person_id_kind, excluded.size);

-- name: people_changed
-- The persons this batch created or changed, with the first event that changed each:
-- the drain's facts (relay_queue_person_facts) read them before the commit.
INSERT INTO stage_person_changed (component, raw_event_id, channel)
SELECT * FROM unnest(%(components)s::bigint[], %(raw_event_ids)s::bigint[], %(channels)s::text[]);
