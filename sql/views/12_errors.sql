-- Error notifications (processors/pipeline/projections/errors.py).
-- The public SQL surface. Columns may be added, never renamed or dropped.

CREATE VIEW wabahook.notification_errors AS
SELECT channel, code, title, details, raw_event_id, received_at
FROM wabahook.notification_error;
COMMENT ON VIEW wabahook.notification_errors IS
    'One row per out-of-band error notification (not per delivery of it).';
