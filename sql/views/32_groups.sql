-- Groups (processors/pipeline/projections/groups.py). The public SQL surface. Columns
-- may be added, never renamed or dropped.

CREATE VIEW wabahook.group_events AS
SELECT channel, group_id, field, type, request_id, reason, initiated_by, succeeded, errors,
       details, event_at, raw_event_id, waba_id, phone_number_id, received_at
FROM wabahook.group_event;
COMMENT ON VIEW wabahook.group_events IS
    'One row per Groups API item (created, deleted, suspended, settings, participants), '
    'failed ones included (succeeded = false, errors).';

-- Each group's state from its successful items only (a failed item, or a setting whose
-- update_successful is false, changes nothing), each value the latest by event_at; a
-- tie goes to the item's content, never to arrival order.
CREATE VIEW wabahook.groups AS
WITH ok AS (
    SELECT channel, group_id, type, details, event_at, dedup_key
    FROM wabahook.group_event
    WHERE succeeded AND group_id IS NOT NULL
), setting (channel, group_id, name, value, event_at, dedup_key) AS (
    SELECT o.channel, o.group_id, s.name, o.details ->> s.name, o.event_at, o.dedup_key
    FROM ok o
    CROSS JOIN unnest(ARRAY['subject', 'description', 'invite_link', 'join_approval_mode']) AS s (name)
    WHERE o.type = 'group_create' AND o.details ? s.name
    UNION ALL
    SELECT o.channel, o.group_id, s.name, o.details -> s.key ->> 'text', o.event_at, o.dedup_key
    FROM ok o
    CROSS JOIN (VALUES ('subject', 'group_subject'), ('description', 'group_description')) AS s (name, key)
    WHERE o.type = 'group_settings_update'
      AND o.details -> s.key -> 'update_successful' = 'true'::jsonb
), latest AS (
    SELECT DISTINCT ON (channel, group_id, name) channel, group_id, name, value
    FROM setting
    ORDER BY channel, group_id, name, event_at DESC, dedup_key DESC
), lifecycle AS (
    SELECT DISTINCT ON (channel, group_id) channel, group_id, event_at,
           CASE type WHEN 'group_delete' THEN 'deleted' WHEN 'group_suspend' THEN 'suspended'
                     ELSE 'active' END AS state
    FROM ok
    WHERE type IN ('group_create', 'group_delete', 'group_suspend', 'group_suspend_cleared')
    ORDER BY channel, group_id, event_at DESC, dedup_key DESC
)
SELECT t.channel, t.group_id,
       v.subject, v.description, v.invite_link, v.join_approval_mode,
       coalesce(l.state, 'active') AS state,
       t.created_at, t.deleted_at,
       CASE WHEN l.state = 'suspended' THEN l.event_at END AS suspended_at,
       t.updated_at
FROM (
    SELECT channel, group_id,
           min(event_at) FILTER (WHERE type = 'group_create') AS created_at,
           min(event_at) FILTER (WHERE type = 'group_delete') AS deleted_at,
           max(event_at) AS updated_at
    FROM ok GROUP BY channel, group_id
) t
LEFT JOIN lifecycle l USING (channel, group_id)
LEFT JOIN (
    SELECT channel, group_id,
           max(value) FILTER (WHERE name = 'subject') AS subject,
           max(value) FILTER (WHERE name = 'description') AS description,
           max(value) FILTER (WHERE name = 'invite_link') AS invite_link,
           max(value) FILTER (WHERE name = 'join_approval_mode') AS join_approval_mode
    FROM latest GROUP BY channel, group_id
) v USING (channel, group_id);
COMMENT ON VIEW wabahook.groups IS
    'One row per group: its subject, description, invite link and state (active, '
    'suspended, deleted), from its successful Groups API items.';

-- Each participant's latest state in each group, from the participants named in
-- group_participants_update items (failed_participants change nothing). A participant
-- is named by their business-scoped user id when an item gives one, else by phone
-- number, else by the identifier the business used (`input`).
CREATE VIEW wabahook.group_participants AS
WITH named (channel, group_id, wa_id, user_id, input, username, state, initiated_by,
            event_at, dedup_key) AS (
    SELECT e.channel, e.group_id, p ->> 'wa_id', p ->> 'user_id', p ->> 'input',
           p ->> 'username',
           CASE WHEN e.type = 'group_participants_add' THEN 'member'
                WHEN e.initiated_by = 'participant' THEN 'left'
                ELSE 'removed' END,
           e.initiated_by, e.event_at, e.dedup_key
    FROM wabahook.group_event e
    CROSS JOIN LATERAL jsonb_array_elements(CASE
        WHEN e.type = 'group_participants_add'
             AND jsonb_typeof(e.details -> 'added_participants') = 'array'
            THEN e.details -> 'added_participants'
        WHEN e.type = 'group_participants_remove'
             AND jsonb_typeof(e.details -> 'removed_participants') = 'array'
            THEN e.details -> 'removed_participants'
        ELSE '[]'::jsonb END) AS p
    WHERE jsonb_typeof(p) = 'object'
    UNION ALL
    SELECT channel, group_id, details ->> 'wa_id', details ->> 'user_id', NULL,
           details ->> 'username',
           CASE type WHEN 'group_join_request_created' THEN 'join_requested'
                     ELSE 'join_request_revoked' END,
           initiated_by, event_at, dedup_key
    FROM wabahook.group_event
    WHERE type IN ('group_join_request_created', 'group_join_request_revoked')
), keyed AS (
    SELECT *, coalesce(nullif(user_id, ''), nullif(wa_id, ''), nullif(input, '')) AS participant
    FROM named
)
SELECT DISTINCT ON (channel, group_id, participant)
       channel, group_id, participant, nullif(wa_id, '') AS wa_id,
       nullif(user_id, '') AS user_id, username, state, event_at AS since, initiated_by,
       (SELECT pi.person_id FROM wabahook.person_ids pi
        WHERE pi.kind = CASE WHEN nullif(user_id, '') IS NOT NULL THEN 'user' ELSE 'phone' END
          AND pi.identifier = coalesce(nullif(user_id, ''), wa_id)) AS person_id
FROM keyed
WHERE group_id IS NOT NULL AND participant IS NOT NULL
ORDER BY channel, group_id, participant, event_at DESC, dedup_key DESC;
COMMENT ON VIEW wabahook.group_participants IS
    'One row per participant of a group: member, removed, left, join_requested or '
    'join_request_revoked, the latest by event_at.';
