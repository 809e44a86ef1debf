-- Operations data for `wabahook stats`, `report` and the worker's metrics: what a
-- person acts on. Every period query takes %(days)s (UTC days back, today included),
-- %(channel)s and %(phone_number_id)s (NULL: every channel, every number). WABA-level
-- facts (templates, the account) of one number are those of the WABAs it was seen under.

-- name: templates_needing_attention
-- Templates whose current status stops sends, whose quality is falling, or that Meta
-- announced it will recategorise (the day ahead is the time to act).
SELECT channel, waba_id, template_id, template_name, language, status, status_reason, status_at,
       quality, quality_at, category, pending_category, pending_category_at
FROM wabahook.templates
WHERE (status IN ('PAUSED', 'DISABLED', 'REJECTED', 'FLAGGED', 'LOCKED')
       OR quality IN ('YELLOW', 'RED') OR pending_category IS NOT NULL)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(phone_number_id)s::text IS NULL OR (channel, waba_id) IN (
       SELECT n.channel, n.waba_id FROM wabahook.phone_numbers n WHERE n.phone_number_id = %(phone_number_id)s))
ORDER BY greatest(status_at, quality_at) DESC NULLS LAST, channel, waba_id, template_id
LIMIT %(limit)s;

-- name: phone_number_events_period
SELECT channel, waba_id, display_phone_number, field, event, old_limit, current_limit,
       requested_name, rejection_reason, event_at
FROM wabahook.phone_number_events
WHERE event_at >= (current_date - %(days)s + 1)::timestamp AT TIME ZONE 'UTC'
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(phone_number_id)s::text IS NULL OR phone_number_id = %(phone_number_id)s
       OR (channel, waba_id, display_phone_number) IN (
           SELECT n.channel, n.waba_id, n.display_phone_number FROM wabahook.phone_numbers n
           WHERE n.phone_number_id = %(phone_number_id)s))
ORDER BY event_at DESC, raw_event_id DESC
LIMIT %(limit)s;

-- name: account_events_period
SELECT channel, waba_id, field, event, severity, event_at,
       coalesce(details #>> '{alert_info,alert_description}', details #>> '{ban_info,waba_ban_state}',
                details #>> '{restriction_info,0,restriction_type}',
                details #>> '{violation_info,violation_type}') AS summary
FROM wabahook.account_events
WHERE event_at >= (current_date - %(days)s + 1)::timestamp AT TIME ZONE 'UTC'
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(phone_number_id)s::text IS NULL OR (channel, waba_id) IN (
       SELECT n.channel, n.waba_id FROM wabahook.phone_numbers n WHERE n.phone_number_id = %(phone_number_id)s))
ORDER BY event_at DESC, raw_event_id DESC
LIMIT %(limit)s;

-- name: opt_outs_period
-- Changes of marketing preference in the period: who stops now, who came back.
SELECT count(*) FILTER (WHERE value = 'stop')::bigint AS stopped,
       count(*) FILTER (WHERE value = 'stop' AND source = 'error_131050')::bigint AS stopped_by_error,
       count(*) FILTER (WHERE value = 'resume')::bigint AS resumed
FROM wabahook.marketing_preferences
WHERE changed_at >= (current_date - %(days)s + 1)::timestamp AT TIME ZONE 'UTC'
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(phone_number_id)s::text IS NULL OR phone_number_id = %(phone_number_id)s);

-- name: pricing_period
SELECT day, pricing_category, pricing_type, sum(messages)::bigint AS messages
FROM wabahook.pricing_daily_in('UTC', %(phone_number_id)s)
WHERE day > current_date - %(days)s AND (%(channel)s::text IS NULL OR channel = %(channel)s)
GROUP BY day, pricing_category, pricing_type
ORDER BY day, pricing_category, pricing_type;

-- name: failure_classes_period
SELECT error_class, sum(messages)::bigint AS messages
FROM wabahook.failures_daily_in('UTC', %(phone_number_id)s)
WHERE day > current_date - %(days)s AND (%(channel)s::text IS NULL OR channel = %(channel)s)
GROUP BY error_class
ORDER BY messages DESC, error_class;

-- name: operations_gauges
-- What on-call pages on, read at scrape time: templates stopped or falling, numbers
-- flagged or downgraded and accounts restricted in the last 24 hours, and marketing
-- opt-outs against marketing messages sent in the last 24 hours.
SELECT t.*,
    (SELECT count(*) FROM wabahook.phone_number_events
     WHERE event = 'FLAGGED' AND event_at > now() - interval '24 hours')::bigint AS numbers_flagged,
    (SELECT count(*) FROM wabahook.phone_number_events
     WHERE event = 'DOWNGRADE' AND event_at > now() - interval '24 hours')::bigint AS numbers_downgraded,
    (SELECT count(*) FROM wabahook.account_events
     WHERE event_at > now() - interval '24 hours'
       AND (event IN ('ACCOUNT_RESTRICTION', 'ACCOUNT_VIOLATION', 'DISABLED_UPDATE', 'ACCOUNT_DELETED',
                      'ACCOUNT_OFFBOARDED')
            OR (field = 'account_alerts' AND severity = 'CRITICAL')))::bigint AS account_restrictions,
    (SELECT count(*) FROM wabahook.marketing_preferences
     WHERE value = 'stop' AND changed_at > now() - interval '24 hours')::bigint AS opt_outs,
    (SELECT count(*) FROM wabahook.delivery_status
     WHERE pricing_category IN ('marketing', 'marketing_lite')
       AND first_status_at > now() - interval '24 hours')::bigint AS marketing_sent
FROM (  -- the templates view folds every template's events: once, not once per count
    SELECT count(*) FILTER (WHERE status = 'PAUSED')::bigint AS templates_paused,
           count(*) FILTER (WHERE status = 'DISABLED')::bigint AS templates_disabled,
           count(*) FILTER (WHERE status = 'REJECTED')::bigint AS templates_rejected,
           count(*) FILTER (WHERE quality = 'RED')::bigint AS templates_quality_red,
           count(*) FILTER (WHERE pending_category IS NOT NULL)::bigint AS templates_recategorising
    FROM wabahook.templates
) t;
