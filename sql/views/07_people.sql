-- People (processors/pipeline/projections/identities.py, processors/pipeline/people.py):
-- the identifiers WhatsApp gives one person, joined by the notifications that name them
-- together. The public SQL surface. Columns may be added, never renamed or dropped.

-- Which person each identifier belongs to: every phone number (kind phone), business-
-- scoped user id (user) and parent user id (parent) ever seen. The other views take
-- their person_id from here.
CREATE VIEW wabahook.person_ids AS
SELECT i.kind, i.identifier, p.person_id
FROM wabahook.person_identifier i
JOIN wabahook.person p USING (component);
COMMENT ON VIEW wabahook.person_ids IS
    'One row per identifier (kind phone, user or parent): the person it belongs to.';

-- Every identity link with its person: identifiers seen together (a number or id change
-- links the previous ones to the current), per channel and username, first and last
-- seen. A link is found through its anchor, one of its identifiers (all of them belong
-- to one person).
CREATE VIEW wabahook.person_links AS
SELECT pi.person_id, l.channel, nullif(l.wa_id, '') AS wa_id, nullif(l.user_id, '') AS user_id,
       nullif(l.parent_user_id, '') AS parent_user_id,
       nullif(l.previous_wa_id, '') AS previous_wa_id,
       nullif(l.previous_user_id, '') AS previous_user_id,
       nullif(l.previous_parent_user_id, '') AS previous_parent_user_id,
       nullif(l.username, '') AS username, l.profile_name, l.first_seen_at, l.last_seen_at
FROM wabahook.identity_link l
JOIN wabahook.person_ids pi ON pi.kind = l.anchor_kind AND pi.identifier = l.anchor;
COMMENT ON VIEW wabahook.person_links IS
    'One row per identity link (identifiers seen together for one person, per channel and '
    'username), with the person it belongs to and when it was first and last seen.';

-- One row per person. Every person_id a person ever had is the own_id of one of its
-- links (the id those identifiers alone would give), in whatever order the links
-- arrived, so previous_person_ids does not depend on that order.
CREATE VIEW wabahook.people AS
WITH ids AS (
    SELECT person_id,
           array_agg(identifier ORDER BY identifier COLLATE "C") FILTER (WHERE kind = 'phone') AS wa_ids,
           array_agg(identifier ORDER BY identifier COLLATE "C") FILTER (WHERE kind = 'user') AS user_ids
    FROM wabahook.person_ids
    GROUP BY person_id
), seen AS (
    SELECT pi.person_id,
           (array_agg(l.wa_id ORDER BY l.last_seen_at DESC NULLS LAST, l.wa_id COLLATE "C" DESC)
                FILTER (WHERE l.wa_id <> ''))[1] AS current_wa_id,
           (array_agg(l.user_id ORDER BY l.last_seen_at DESC NULLS LAST, l.user_id COLLATE "C" DESC)
                FILTER (WHERE l.user_id <> ''))[1] AS current_user_id,
           (array_agg(l.parent_user_id ORDER BY l.last_seen_at DESC NULLS LAST,
                      l.parent_user_id COLLATE "C" DESC)
                FILTER (WHERE l.parent_user_id <> ''))[1] AS parent_user_id,
           (array_agg(l.username ORDER BY l.last_seen_at DESC NULLS LAST, l.username COLLATE "C" DESC)
                FILTER (WHERE l.username <> ''))[1] AS username,
           (array_agg(l.profile_name ORDER BY l.profile_key COLLATE "C" DESC)
                FILTER (WHERE l.profile_key IS NOT NULL))[1] AS profile_name,
           array_agg(DISTINCT l.channel ORDER BY l.channel) AS channels,
           min(l.first_seen_at) AS first_seen_at, max(l.last_seen_at) AS last_seen_at,
           array_agg(DISTINCT l.own_id) AS own_ids
    FROM wabahook.identity_link l
    JOIN wabahook.person_ids pi ON pi.kind = l.anchor_kind AND pi.identifier = l.anchor
    GROUP BY pi.person_id
)
SELECT person_id, s.current_wa_id, s.current_user_id, s.parent_user_id, s.username,
       s.profile_name, coalesce(ids.wa_ids, '{}') AS wa_ids,
       coalesce(ids.user_ids, '{}') AS user_ids, s.channels, s.first_seen_at, s.last_seen_at,
       ARRAY(SELECT own FROM unnest(s.own_ids) AS own
             WHERE own <> person_id ORDER BY own COLLATE "C") AS previous_person_ids
FROM ids
LEFT JOIN seen s USING (person_id);
COMMENT ON VIEW wabahook.people IS
    'One row per person: the phone numbers and business-scoped user ids connected by the '
    'notifications that named them together, across channels. person_id is the smallest '
    'user id (as bytes), else the smallest phone number; it changes when new links merge '
    'two people or bring a smaller id, and previous_person_ids lists every id the person '
    'had or could have had. current_wa_id, current_user_id, parent_user_id and username: '
    'the latest seen; profile_name: the latest.';
