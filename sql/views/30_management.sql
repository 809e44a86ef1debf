-- Management notifications: templates, phone numbers, the account
-- (processors/pipeline/projections/templates.py, phone_numbers.py, accounts.py).
-- The public SQL surface (SPEC §5). Columns may be added, never renamed or dropped.

-- A database migrated only up to an earlier version (before 0012) has no tables to show.
DO $$
BEGIN
    IF to_regclass('wabahook.template_event') IS NULL THEN
        RETURN;
    END IF;

    CREATE VIEW wabahook.template_events AS
    SELECT channel, waba_id, template_id, template_name, language, kind, event, previous, reason,
           category, details, event_at, raw_event_id, phone_number_id, field, correct_category,
           category_update_at, received_at
    FROM wabahook.template_event;
    COMMENT ON VIEW wabahook.template_events IS
        'One row per template notification (status, quality, category, category_announced, components).';

    CREATE VIEW wabahook.templates AS
    SELECT channel, waba_id, template_id, template_name, language, status, status_reason, status_at,
           quality, quality_at, category, category_at
    FROM wabahook.template_state;
    COMMENT ON VIEW wabahook.templates IS
        'One row per template: each attribute from the latest notification naming it (by event_at, then the later raw event).';

    CREATE VIEW wabahook.phone_number_events AS
    SELECT channel, waba_id, display_phone_number, field, event, old_limit, current_limit,
           max_daily_conversations, requested_name, rejection_reason, details, event_at,
           raw_event_id, phone_number_id, received_at
    FROM wabahook.phone_number_event;
    COMMENT ON VIEW wabahook.phone_number_events IS
        'One row per phone-number quality, limit or display-name notification.';

    CREATE VIEW wabahook.account_events AS
    SELECT channel, waba_id, field, event, severity, details, event_at, raw_event_id,
           phone_number_id, entity_type, entity_id, alert_status, display_phone_number, received_at
    FROM wabahook.account_event;
    COMMENT ON VIEW wabahook.account_events IS
        'One row per account update, alert, capability change or security notification.';
END
$$;
