-- Marketing preferences, message echoes and calls (processors/pipeline/projections/
-- preferences.py, echoes.py, calls.py, call_errors.py).
-- The public SQL surface. Columns may be added, never renamed or dropped.

CREATE VIEW wabahook.marketing_preference_events AS
SELECT e.channel, e.wa_id, e.category, e.value, e.detail, e.changed_at, e.source, e.message_id,
       e.waba_id, e.phone_number_id, e.payload, e.raw_event_id, e.received_at, e.user_id,
       pi.person_id
FROM wabahook.marketing_preference_event e
LEFT JOIN wabahook.person_ids pi
       ON pi.kind = CASE WHEN e.user_id IS NOT NULL THEN 'user' ELSE 'phone' END
      AND pi.identifier = coalesce(e.user_id, e.wa_id);
COMMENT ON VIEW wabahook.marketing_preference_events IS
    'Every preference change: user_preferences items (any category) and the stops implied by'
    ' failed statuses with error 131050; one row per (channel, wa_id, category, value, second).'
    ' wa_id is the phone number, else (Meta left it out) the business-scoped user id.';

-- The latest marketing choice of each user. Only `stop` and `resume` of the category
-- marketing_messages decide it; other values and categories stay in the history.
CREATE VIEW wabahook.marketing_preferences AS
SELECT DISTINCT ON (channel, wa_id)
       channel, wa_id, value, detail, changed_at, source, message_id, waba_id, phone_number_id,
       raw_event_id, user_id, person_id
FROM wabahook.marketing_preference_events
WHERE category = 'marketing_messages' AND value IN ('stop', 'resume')
ORDER BY channel, wa_id, changed_at DESC, value = 'stop' DESC;
COMMENT ON VIEW wabahook.marketing_preferences IS
    'One row per (channel, wa_id): the latest marketing stop/resume by time (at the same'
    ' second, stop wins); source user_preferences or error_131050.';

-- The recipient is a phone number, else (Meta left it out) a business-scoped user id.
CREATE VIEW wabahook.message_echoes AS
SELECT channel, message_id, sender AS "from", recipient AS "to", type, sent_at, text, payload,
       raw_event_id, received_at, waba_id, phone_number_id,
       (SELECT min(pi.person_id) FROM wabahook.person_ids pi
        WHERE pi.kind IN ('phone', 'user') AND pi.identifier = recipient) AS person_id
FROM wabahook.message_echo;
COMMENT ON VIEW wabahook.message_echoes IS
    'Messages the business sent from the WhatsApp Business app (Coexistence echoes).';

CREATE VIEW wabahook.call_events AS
SELECT channel, call_id, phone_number_id, event, status, direction, caller AS "from",
       callee AS "to", at, started_at, ended_at, duration_seconds, biz_opaque_callback_data,
       errors, raw_event_id, waba_id, payload, received_at
FROM wabahook.call_event;
COMMENT ON VIEW wabahook.call_events IS
    'Every call notification: connect, terminate, and call statuses (event = the status).';

-- Each call from all of its events. status: the status of the latest terminate (COMPLETED,
-- FAILED...) whenever one exists; otherwise the latest status of the other events (at the
-- same second RINGING gives way to an answer), or, when no event carries one, the latest
-- event (`connect`). Descriptive columns come from the earliest event that has them; the
-- times of the call from the latest terminate.
CREATE VIEW wabahook.calls AS
SELECT channel, call_id,
       (array_agg(phone_number_id ORDER BY at, event)
            FILTER (WHERE phone_number_id IS NOT NULL))[1] AS phone_number_id,
       (array_agg(caller ORDER BY at, event) FILTER (WHERE caller IS NOT NULL))[1] AS "from",
       (array_agg(callee ORDER BY at, event) FILTER (WHERE callee IS NOT NULL))[1] AS "to",
       (array_agg(direction ORDER BY at, event)
            FILTER (WHERE direction IS NOT NULL))[1] AS direction,
       coalesce(
           (array_agg(status ORDER BY at DESC, status DESC)
                FILTER (WHERE event = 'terminate' AND status IS NOT NULL))[1],
           (array_agg(status ORDER BY at DESC, status = 'RINGING', status DESC)
                FILTER (WHERE event <> 'terminate' AND status IS NOT NULL))[1],
           (array_agg(event ORDER BY at DESC, event DESC))[1]
       ) AS status,
       min(at) FILTER (WHERE event = 'connect') AS connected_at,
       (array_agg(started_at ORDER BY at DESC, status DESC)
            FILTER (WHERE event = 'terminate' AND started_at IS NOT NULL))[1] AS started_at,
       (array_agg(ended_at ORDER BY at DESC, status DESC)
            FILTER (WHERE event = 'terminate' AND ended_at IS NOT NULL))[1] AS ended_at,
       (array_agg(duration_seconds ORDER BY at DESC, status DESC)
            FILTER (WHERE event = 'terminate' AND duration_seconds IS NOT NULL))[1]
           AS duration_seconds,
       (array_agg(biz_opaque_callback_data ORDER BY at, event)
            FILTER (WHERE biz_opaque_callback_data IS NOT NULL))[1] AS biz_opaque_callback_data,
       (array_agg(waba_id ORDER BY at, event) FILTER (WHERE waba_id IS NOT NULL))[1] AS waba_id,
       min(at) AS first_event_at, max(at) AS last_event_at, count(*) AS events,
       -- The customer: whichever side of the call is a known person.
       (SELECT min(pi.person_id) FROM wabahook.person_ids pi
        WHERE pi.kind IN ('phone', 'user')
          AND pi.identifier IN (min(caller), min(callee))) AS person_id
FROM wabahook.call_event
GROUP BY channel, call_id;
COMMENT ON VIEW wabahook.calls IS
    'One row per call (channel, call_id), derived from all its call events; the status of'
    ' a terminate wins over connect and ringing ones.';

CREATE VIEW wabahook.call_errors AS
SELECT channel, waba_id, phone_number_id, code, title, details, event_at, raw_event_id,
       received_at
FROM wabahook.call_error;
COMMENT ON VIEW wabahook.call_errors IS
    'Errors listed at the value level of calls notifications (also in call_events.errors of'
    ' the calls they came with), one per error of a distinct body.';

-- One answer per person to "may I send them marketing?": the latest marketing stop or
-- resume under any of the person's identifiers, on any channel (at the same second,
-- stop wins), so a stop under a phone number and a later resume under the user id are
-- one history.
CREATE VIEW wabahook.marketing_preferences_by_person AS
SELECT DISTINCT ON (person_id)
       person_id, value, changed_at, source, detail, channel, wa_id, user_id, message_id,
       raw_event_id
FROM wabahook.marketing_preference_events
WHERE category = 'marketing_messages' AND value IN ('stop', 'resume') AND person_id IS NOT NULL
ORDER BY person_id, changed_at DESC, value = 'stop' DESC, channel, wa_id;
COMMENT ON VIEW wabahook.marketing_preferences_by_person IS
    'One row per person with a marketing stop or resume: the latest across all of the '
    'person''s identifiers and channels (at the same second, stop wins).';
