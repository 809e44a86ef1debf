-- Looking people up: `wabahook people show` and `events list --person`
-- (processors/person_lookup.py).

-- name: people_named
-- The people %(needle)s names: a person id (current or previous: both are identifiers of
-- the person), a phone number, a user id or parent user id, or a username (with or
-- without its "@"), with when each held that username. (Each by an index: the kinds
-- are spelled out for the identifiers' key.)
SELECT pi.person_id, NULL::text AS username, NULL::timestamptz AS since,
       NULL::timestamptz AS until
FROM wabahook.person_ids pi
WHERE pi.kind = ANY ('{phone,user,parent}'::text[]) AND pi.identifier = %(needle)s
UNION ALL
SELECT pi.person_id, l.username, min(l.first_seen_at), max(l.last_seen_at)
FROM wabahook.identity_link l
JOIN wabahook.person_ids pi ON pi.kind = l.anchor_kind AND pi.identifier = l.anchor
WHERE l.username <> ''
  AND l.username IN (%(needle)s, ltrim(%(needle)s, '@'), '@' || ltrim(%(needle)s, '@'))
GROUP BY pi.person_id, l.username
ORDER BY person_id, since NULLS FIRST;

-- name: person_row
SELECT * FROM wabahook.people WHERE person_id = %(person_id)s;

-- name: person_links_of
SELECT channel, wa_id, user_id, parent_user_id, previous_wa_id, previous_user_id, username,
       profile_name, first_seen_at, last_seen_at
FROM wabahook.person_links
WHERE person_id = %(person_id)s
ORDER BY first_seen_at NULLS FIRST, last_seen_at NULLS FIRST, channel, wa_id, user_id;

-- name: person_counts
-- What is stored about a person, found through each of their identifiers on each channel
-- (the indexes are by channel and identifier).
SELECT
    (SELECT count(*) FROM wabahook.channels c, wabahook.inbound_message m
     WHERE m.channel = c.name AND (m.wa_id = ANY(%(ids)s) OR m.user_id = ANY(%(ids)s)))
        AS messages_received,
    (SELECT count(DISTINCT (s.channel, s.message_id)) FROM wabahook.channels c, wabahook.status_event s
     WHERE s.channel = c.name
       AND (s.recipient_id = ANY(%(ids)s) OR s.recipient_user_id = ANY(%(ids)s)
            OR (s.participant <> '' AND s.participant = ANY(%(ids)s))))
        AS messages_sent,
    (SELECT count(*) FROM wabahook.channels c, wabahook.marketing_preference_event p
     WHERE p.channel = c.name AND (p.wa_id = ANY(%(ids)s) OR p.user_id = ANY(%(ids)s)))
        AS preference_changes;

-- name: person_messages
-- A person's latest messages both ways, across their numbers, ids and channels: what
-- they sent, and what was sent to them (with its current status).
(SELECT 'received' AS direction, m.channel, m.message_id, m.sent_at AS at, m.wa_id,
        m.from_user_id AS user_id, m.type, m.current_text AS text, NULL AS status
 FROM wabahook.channels c, wabahook.messages_inbound m
 WHERE m.channel = c.name AND (m.wa_id = ANY(%(ids)s) OR m.user_id = ANY(%(ids)s)))
UNION ALL
(SELECT 'sent', d.channel, d.message_id, d.first_status_at, d.recipient_id,
        d.recipient_user_id, NULL, NULL, d.status
 FROM wabahook.channels c, wabahook.delivery_status d
 WHERE d.channel = c.name
   AND (d.recipient_id = ANY(%(ids)s) OR d.recipient_user_id = ANY(%(ids)s)))
ORDER BY at DESC NULLS LAST, message_id
LIMIT %(limit)s;
