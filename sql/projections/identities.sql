-- Identity links, and the contacts they name (processors/pipeline/projections/identities.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_identity_link
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_identity_link (
    raw_event_id bigint, channel text, wa_id text, user_id text, parent_user_id text,
    previous_wa_id text, previous_user_id text, previous_parent_user_id text, username text,
    name text, seen_at bigint, contact boolean, ref text, phone_number_id text
) ON COMMIT DELETE ROWS;

-- name: project_identity_links
-- One row per distinct link (channel and username included): first and last seen, and
-- the profile name of its latest sighting that carried one (ties: the greater key). A
-- row is rewritten only when it learns something, so a customer's every message does
-- not rewrite the same row.
INSERT INTO {projections}.identity_link AS t
SELECT coalesce(wa_id, ''), coalesce(user_id, ''), coalesce(parent_user_id, ''),
       coalesce(previous_wa_id, ''), coalesce(previous_user_id, ''),
       coalesce(previous_parent_user_id, ''), channel, coalesce(username, ''),
       to_timestamp(min(seen_at)), to_timestamp(max(seen_at)),
       (array_agg(name ORDER BY profile_key DESC) FILTER (WHERE name IS NOT NULL))[1],
       max(profile_key)
FROM (
    SELECT *, CASE WHEN name IS NOT NULL
                   THEN wabahook.fact_key(to_timestamp(coalesce(seen_at, 0)), ref || ':' || name)
              END AS profile_key
    FROM stage_identity_link
    WHERE {ids}::bigint[] IS NULL OR raw_event_id = ANY({ids})
) s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
ORDER BY 1, 2, 3, 4, 5, 6, 7, 8  -- one lock order for every drain: no deadlocks between them
ON CONFLICT (wa_id, user_id, parent_user_id, previous_wa_id, previous_user_id,
             previous_parent_user_id, channel, username) DO UPDATE SET
    first_seen_at = least(t.first_seen_at, excluded.first_seen_at),
    last_seen_at = greatest(t.last_seen_at, excluded.last_seen_at),
    (profile_name, profile_key) =
        (SELECT CASE WHEN excluded.profile_key > t.profile_key OR t.profile_key IS NULL
                     THEN excluded.profile_name ELSE t.profile_name END,
                greatest(t.profile_key, excluded.profile_key))
WHERE excluded.first_seen_at < t.first_seen_at OR excluded.last_seen_at > t.last_seen_at
   OR (t.first_seen_at IS NULL AND excluded.first_seen_at IS NOT NULL)
   OR excluded.profile_key > t.profile_key
   OR (t.profile_key IS NULL AND excluded.profile_key IS NOT NULL);

-- name: project_identity_pending
-- Links whose identifiers were never seen together before wait to be joined into
-- people (processors/pipeline/people.py joins them before the drain commits). This
-- statement's snapshot predates the links it writes: a link known before it is known.
INSERT INTO {projections}.identity_pending
SELECT DISTINCT ON (1, 2, 3, 4, 5, 6)
       coalesce(s.wa_id, ''), coalesce(s.user_id, ''), coalesce(s.parent_user_id, ''),
       coalesce(s.previous_wa_id, ''), coalesce(s.previous_user_id, ''),
       coalesce(s.previous_parent_user_id, ''), s.raw_event_id, s.channel
FROM stage_identity_link s
WHERE ({ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids}))
  AND NOT EXISTS (
      SELECT FROM {projections}.identity_link l
      WHERE (l.wa_id, l.user_id, l.parent_user_id, l.previous_wa_id, l.previous_user_id,
             l.previous_parent_user_id)
          = (coalesce(s.wa_id, ''), coalesce(s.user_id, ''), coalesce(s.parent_user_id, ''),
             coalesce(s.previous_wa_id, ''), coalesce(s.previous_user_id, ''),
             coalesce(s.previous_parent_user_id, '')))
ORDER BY 1, 2, 3, 4, 5, 6, s.raw_event_id
ON CONFLICT DO NOTHING;

-- name: project_contacts
-- Every contacts[] item and every message's sender is a contact, keyed by its wa_id:
-- the phone number, else (a customer whose number Meta withholds) the business-scoped
-- user id. Each value is taken from the latest sighting that carried it.
INSERT INTO {projections}.contact AS t
SELECT (m).* FROM (
    SELECT wabahook.merged_contact(ROW(
        channel, coalesce(wa_id, user_id), name,
        CASE WHEN name IS NOT NULL
             THEN wabahook.fact_key(to_timestamp(coalesce(seen_at, 0)), ref || ':' || name)
        END,
        to_timestamp(seen_at), to_timestamp(seen_at),
        user_id, parent_user_id, username,
        CASE WHEN user_id IS NOT NULL OR parent_user_id IS NOT NULL OR username IS NOT NULL
             THEN wabahook.fact_key(to_timestamp(coalesce(seen_at, 0)),
                                    ref || ':' || jsonb_build_array(user_id, parent_user_id, username)::text)
        END,
        phone_number_id,
        CASE WHEN phone_number_id IS NOT NULL
             THEN wabahook.fact_key(to_timestamp(coalesce(seen_at, 0)), ref || ':' || phone_number_id)
        END
    )::wabahook.contact_facts) AS m
    FROM stage_identity_link
    WHERE contact AND coalesce(wa_id, user_id) IS NOT NULL
      AND ({ids}::bigint[] IS NULL OR raw_event_id = ANY({ids}))
    GROUP BY channel, coalesce(wa_id, user_id)
    ORDER BY channel, coalesce(wa_id, user_id)  -- one lock order for every drain
) merged
ON CONFLICT (channel, wa_id) DO UPDATE SET
    (profile_name, profile_key, first_seen_at, last_seen_at, user_id, parent_user_id, username,
     identity_key, phone_number_id, phone_key)
  = (SELECT m.profile_name, m.profile_key, m.first_seen_at, m.last_seen_at, m.user_id,
            m.parent_user_id, m.username, m.identity_key, m.phone_number_id, m.phone_key
     FROM wabahook.merge_contact(ROW(t.*)::wabahook.contact_facts,
                                 ROW(excluded.*)::wabahook.contact_facts) m);
