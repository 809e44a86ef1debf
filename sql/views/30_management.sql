-- Management notifications: templates, phone numbers, the account
-- (processors/pipeline/projections/templates.py, phone_numbers.py, accounts.py).
-- The public SQL surface. Columns may be added, never renamed or dropped.

CREATE VIEW wabahook.template_events AS
SELECT channel, waba_id, template_id, template_name, language, kind, event, previous, reason,
       category, details, event_at, raw_event_id, phone_number_id, field, correct_category,
       category_update_at, received_at
FROM wabahook.template_event;
COMMENT ON VIEW wabahook.template_events IS
    'One row per template notification (status, quality, category, category_announced, components).';

-- Derived from the deduplicated events (each with the lowest raw event that carried
-- it), so neither arrival order nor a sender's re-delivery changes a template.
CREATE VIEW wabahook.templates AS
WITH fact AS (
    SELECT channel, waba_id, template_id, template_name, language, kind, event, reason,
           event_at, raw_event_id, dedup_key, correct_category, category_update_at,
           CASE kind WHEN 'category' THEN event WHEN 'status' THEN category END AS new_category
    FROM wabahook.template_event
    WHERE waba_id IS NOT NULL AND template_id IS NOT NULL
)
SELECT t.channel, t.waba_id, t.template_id, n.template_name, n.language,
       s.event AS status, s.reason AS status_reason, s.event_at AS status_at,
       q.event AS quality, q.event_at AS quality_at,
       c.new_category AS category, c.event_at AS category_at,
       -- An announced recategorisation still to come: the latest announcement, until a
       -- category applies at or after it.
       p.correct_category AS pending_category, p.category_update_at AS pending_category_at
FROM (SELECT DISTINCT channel, waba_id, template_id FROM fact) t
LEFT JOIN LATERAL (
    SELECT template_name, language FROM fact f
    WHERE (f.channel, f.waba_id, f.template_id) = (t.channel, t.waba_id, t.template_id)
      AND (f.template_name IS NOT NULL OR f.language IS NOT NULL)
    ORDER BY f.event_at DESC, f.raw_event_id DESC, f.dedup_key DESC LIMIT 1
) n ON true
LEFT JOIN LATERAL (
    SELECT event, reason, event_at FROM fact f
    WHERE (f.channel, f.waba_id, f.template_id) = (t.channel, t.waba_id, t.template_id)
      AND f.kind = 'status' AND f.event IS NOT NULL
    ORDER BY f.event_at DESC, f.raw_event_id DESC, f.dedup_key DESC LIMIT 1
) s ON true
LEFT JOIN LATERAL (
    SELECT event, event_at FROM fact f
    WHERE (f.channel, f.waba_id, f.template_id) = (t.channel, t.waba_id, t.template_id)
      AND f.kind = 'quality' AND f.event IS NOT NULL
    ORDER BY f.event_at DESC, f.raw_event_id DESC, f.dedup_key DESC LIMIT 1
) q ON true
LEFT JOIN LATERAL (
    SELECT new_category, event_at FROM fact f
    WHERE (f.channel, f.waba_id, f.template_id) = (t.channel, t.waba_id, t.template_id)
      AND f.new_category IS NOT NULL
    ORDER BY f.event_at DESC, f.raw_event_id DESC, f.dedup_key DESC LIMIT 1
) c ON true
LEFT JOIN LATERAL (
    SELECT correct_category, category_update_at, event_at FROM fact f
    WHERE (f.channel, f.waba_id, f.template_id) = (t.channel, t.waba_id, t.template_id)
      AND f.kind = 'category_announced' AND f.correct_category IS NOT NULL
    ORDER BY f.event_at DESC, f.raw_event_id DESC, f.dedup_key DESC LIMIT 1
) p ON c.event_at IS NULL OR p.event_at > c.event_at;
COMMENT ON VIEW wabahook.templates IS
    'One row per template: each attribute from the latest notification naming it (by event_at, then the later raw event); pending_category: a recategorisation Meta announced that has not applied yet.';

CREATE VIEW wabahook.phone_number_events AS
SELECT channel, waba_id, display_phone_number, field, event, old_limit, current_limit,
       max_daily_conversations, requested_name, rejection_reason, details, event_at,
       raw_event_id, phone_number_id, received_at, username
FROM wabahook.phone_number_event;
COMMENT ON VIEW wabahook.phone_number_events IS
    'One row per phone-number quality, limit, display-name or business-username notification.';

CREATE VIEW wabahook.account_events AS
SELECT channel, waba_id, field, event, severity, details, event_at, raw_event_id,
       phone_number_id, entity_type, entity_id, alert_status, display_phone_number, received_at
FROM wabahook.account_event;
COMMENT ON VIEW wabahook.account_events IS
    'One row per account update, alert, capability change or security notification.';

CREATE VIEW wabahook.flow_events AS
SELECT channel, waba_id, flow_id, flow_name, event, old_status, new_status, details, event_at,
       raw_event_id, phone_number_id, received_at
FROM wabahook.flow_event;
COMMENT ON VIEW wabahook.flow_events IS
    'One row per WhatsApp Flows notification: a status change (old_status, new_status) or an endpoint alert (event).';
