-- Inbound messages, their edits and revokes, and contacts
-- (processors/pipeline/projections/messages.py, message_changes.py).
-- The public SQL surface. Columns may be added, never renamed or dropped.

CREATE VIEW wabahook.message_changes AS
SELECT x.channel, x.message_id, x.change, x.changed_at, x.change_message_id, x.text, x.payload,
       x.raw_event_id, x.received_at, x.wa_id, x.user_id, x.phone_number_id,
       pi.person_id  -- the customer who changed their message (wabahook.people)
FROM wabahook.message_change x
LEFT JOIN wabahook.person_ids pi
       ON pi.kind = CASE WHEN x.user_id IS NOT NULL THEN 'user' ELSE 'phone' END
      AND pi.identifier = coalesce(x.user_id, nullif(x.wa_id, ''));
COMMENT ON VIEW wabahook.message_changes IS
    'One row per edit or revoke a customer made (deduplicated by channel and change_message_id, '
    'the notification''s own id); message_id is the original message. changed_at is the '
    'notification''s timestamp (else entry.time, else when it arrived). An edit may be stored '
    'before its original message arrives.';

-- The edits and revokes of each message, folded from the set of its changes (never from
-- their arrival order): the latest edit by changed_at (ties: the later raw event, then
-- the greater change id) gives the current text; any revoke blanks it for good.
CREATE VIEW wabahook.messages_inbound AS
SELECT m.channel, m.message_id, m.wa_id, m.type, m.sent_at, m.phone_number_id, m.text,
       m.context_message_id, m.payload, m.raw_event_id, m.received_at, m.contact_name,
       m.user_id, m.parent_user_id, m.username, c.edited_at, c.revoked_at,
       CASE WHEN c.revoked_at IS NOT NULL THEN NULL
            WHEN c.edited_at IS NOT NULL THEN c.edited_text
            ELSE m.text END AS current_text,
       -- The sender's business-scoped user id (from_user_id, else its contacts[] entry),
       -- and the group a message was sent in.
       m.user_id AS from_user_id, m.group_id,
       -- The sender as a person (wabahook.people).
       pi.person_id
FROM wabahook.inbound_message m
LEFT JOIN wabahook.person_ids pi
       ON pi.kind = CASE WHEN m.user_id IS NOT NULL THEN 'user' ELSE 'phone' END
      AND pi.identifier = coalesce(m.user_id, m.wa_id)
LEFT JOIN (
    SELECT channel, message_id,
           max(changed_at) FILTER (WHERE change = 'edit') AS edited_at,
           min(changed_at) FILTER (WHERE change = 'revoke') AS revoked_at,
           (array_agg(text ORDER BY changed_at DESC, raw_event_id DESC, change_message_id DESC)
                FILTER (WHERE change = 'edit'))[1] AS edited_text
    FROM wabahook.message_change
    GROUP BY channel, message_id
) c ON c.channel = m.channel AND c.message_id = m.message_id;
COMMENT ON VIEW wabahook.messages_inbound IS
    'One row per message a customer sent (deduplicated by channel and message id). wa_id is '
    'the sender''s phone number, or, when Meta withholds it (a username adopter: wa_id ""), '
    'the business-scoped user_id, so that wa_id always names one customer. edited_at: the '
    'latest edit; revoked_at: the revoke; current_text: the latest edit''s text, NULL once '
    'revoked, text when never edited.';

CREATE VIEW wabahook.contacts AS
SELECT c.channel, c.wa_id, c.profile_name, c.first_seen_at, c.last_seen_at, c.user_id,
       c.parent_user_id, c.username, c.phone_number_id, pi.person_id
FROM wabahook.contact c
LEFT JOIN wabahook.person_ids pi
       ON pi.kind = CASE WHEN c.wa_id = c.user_id THEN 'user' ELSE 'phone' END
      AND pi.identifier = c.wa_id;
COMMENT ON VIEW wabahook.contacts IS
    'One row per customer a notification listed (a contacts[] item of any kind of '
    'notification, or a message''s sender), keyed by (channel, wa_id); the name from the '
    'latest sighting. wa_id is the phone number, or, for a customer known only by a '
    'business-scoped user id (Meta left the number out), that user_id: never NULL or empty. '
    'A customer first seen by user_id alone and later with a phone number has a row for '
    'each, with one person_id (wabahook.people). user_id, parent_user_id and username come '
    'from the latest sighting that carried them; phone_number_id from the latest sighting.';
