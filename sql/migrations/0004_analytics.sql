-- Analytics: indexes behind the daily views.


-- The daily views group by UTC day: these let a "last N days" filter use an index.
CREATE INDEX message_delivery_utc_day ON wabahook.message_delivery (((first_status_at AT TIME ZONE 'UTC')::date));
CREATE INDEX status_event_failed_utc_day ON wabahook.status_event (((status_at AT TIME ZONE 'UTC')::date))
    WHERE status = 'failed';
CREATE INDEX raw_events_utc_hour ON wabahook.raw_events ((date_trunc('hour', received_at AT TIME ZONE 'UTC')));
