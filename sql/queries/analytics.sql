-- Every period query takes %(days)s (UTC days back, today included), %(channel)s and
-- %(phone_number_id)s (NULL: every channel, every number).

-- name: funnel_period
SELECT day, sum(sent)::bigint AS sent, sum(delivered)::bigint AS delivered,
       sum(read)::bigint AS read, sum(failed)::bigint AS failed,
       round(sum(delivered)::numeric / nullif(sum(sent), 0), 4) AS delivered_rate,
       round(sum(read)::numeric / nullif(sum(delivered), 0), 4) AS read_rate
FROM wabahook.delivery_funnel_daily_in('UTC', %(phone_number_id)s)
WHERE day > current_date - %(days)s AND (%(channel)s::text IS NULL OR channel = %(channel)s)
GROUP BY day ORDER BY day;

-- name: latency_period
SELECT count(*) AS messages,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - sent_at)) AS p50_sent_to_delivered_seconds,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - sent_at)) AS p90_sent_to_delivered_seconds,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM read_at - delivered_at)) AS p50_delivered_to_read_seconds,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM read_at - delivered_at)) AS p90_delivered_to_read_seconds
FROM wabahook.message_delivery
WHERE sent_at IS NOT NULL AND delivered_at IS NOT NULL
  AND first_status_at >= (current_date - %(days)s + 1)::timestamp AT TIME ZONE 'UTC'
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(phone_number_id)s::text IS NULL OR phone_number_id = %(phone_number_id)s);

-- name: latency_samples
-- Per-message latencies for the report's distributions (newest first, bounded).
SELECT extract(epoch FROM delivered_at - sent_at) AS sent_to_delivered,
       extract(epoch FROM read_at - delivered_at) AS delivered_to_read
FROM wabahook.message_delivery
WHERE delivered_at IS NOT NULL
  AND first_status_at >= (current_date - %(days)s + 1)::timestamp AT TIME ZONE 'UTC'
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(phone_number_id)s::text IS NULL OR phone_number_id = %(phone_number_id)s)
ORDER BY first_status_at DESC
LIMIT 50000;

-- name: failures_period
SELECT error_code, error_title, sum(messages)::bigint AS messages
FROM wabahook.failures_daily_in('UTC', %(phone_number_id)s)
WHERE day > current_date - %(days)s AND (%(channel)s::text IS NULL OR channel = %(channel)s)
GROUP BY error_code, error_title
ORDER BY messages DESC, error_code
LIMIT %(limit)s;

-- name: intake_period
-- Per channel: a delivery may carry several numbers' notifications.
SELECT hour, sum(requests)::bigint AS requests,
       sum(duplicate_deliveries)::bigint AS duplicate_deliveries, sum(rejected)::bigint AS rejected,
       sum(failed)::bigint AS failed, sum(queued)::bigint AS queued
FROM wabahook.intake_hourly
WHERE hour >= (current_date - %(days)s + 1)::timestamp AND (%(channel)s::text IS NULL OR channel = %(channel)s)
GROUP BY hour ORDER BY hour;

-- name: sender_retries_last_hour
SELECT coalesce(sum(duplicate_deliveries), 0)::bigint AS retries
FROM wabahook.intake_hourly
WHERE hour >= date_trunc('hour', now() AT TIME ZONE 'UTC') - interval '1 hour';

-- name: known_phone_number
SELECT EXISTS (
    SELECT FROM wabahook.phone_numbers
    WHERE phone_number_id = %(phone_number_id)s
      AND (%(channel)s::text IS NULL OR channel = %(channel)s)
) AS known;

-- name: people_groups_period
-- Messages to customers WhatsApp named without a phone number (username users), groups
-- created and suspended, and group messages' deliveries counted per participant.
SELECT
    (SELECT count(*) FROM wabahook.message_delivery
     WHERE recipient_id IS NULL AND recipient_user_id IS NOT NULL
       AND first_status_at >= (current_date - %(days)s + 1)::timestamp AT TIME ZONE 'UTC'
       AND (%(channel)s::text IS NULL OR channel = %(channel)s)
       AND (%(phone_number_id)s::text IS NULL OR phone_number_id = %(phone_number_id)s)
    ) AS username_only_messages,
    e.groups_created, e.groups_suspended,
    g.participants AS group_participant_messages, g.delivered AS group_participants_delivered,
    round(g.delivered::numeric / nullif(g.participants, 0), 4) AS group_delivered_rate
FROM (
    SELECT count(*) AS participants,
           count(*) FILTER (WHERE delivered_at IS NOT NULL OR read_at IS NOT NULL
                            OR status IN ('delivered', 'read', 'played')) AS delivered
    FROM wabahook.group_delivery_status s
    WHERE coalesce(sent_at, delivered_at, read_at, failed_at)
          >= (current_date - %(days)s + 1)::timestamp AT TIME ZONE 'UTC'
      AND (%(channel)s::text IS NULL OR channel = %(channel)s)
      AND (%(phone_number_id)s::text IS NULL OR EXISTS (
          SELECT FROM wabahook.message_delivery d
          WHERE d.channel = s.channel AND d.message_id = s.message_id
            AND d.phone_number_id = %(phone_number_id)s))
) g, (
    SELECT count(*) FILTER (WHERE type = 'group_create') AS groups_created,
           count(*) FILTER (WHERE type = 'group_suspend') AS groups_suspended
    FROM wabahook.group_event
    WHERE succeeded AND event_at >= (current_date - %(days)s + 1)::timestamp AT TIME ZONE 'UTC'
      AND (%(channel)s::text IS NULL OR channel = %(channel)s)
      AND (%(phone_number_id)s::text IS NULL OR phone_number_id = %(phone_number_id)s)
) e;

-- name: ads_period
-- From Click-to-WhatsApp ads, by UTC day: conversations started (an ad click's first
-- message), and the leads and purchases Meta detected.
SELECT day, sum(conversations)::integer AS conversations, sum(leads)::integer AS leads,
       sum(purchases)::integer AS purchases
FROM (
    SELECT (min(sent_at) AT TIME ZONE 'UTC')::date AS day, 1 AS conversations, 0 AS leads,
           0 AS purchases
    FROM wabahook.inbound_message
    WHERE octet_length(payload #>> '{referral,ctwa_clid}') BETWEEN 1 AND 512
      AND (%(channel)s::text IS NULL OR channel = %(channel)s)
      AND (%(phone_number_id)s::text IS NULL OR phone_number_id = %(phone_number_id)s)
    GROUP BY channel, payload #>> '{referral,ctwa_clid}'
    HAVING min(sent_at) >= (current_date - %(days)s + 1)::timestamp AT TIME ZONE 'UTC'
    UNION ALL
    SELECT (event_at AT TIME ZONE 'UTC')::date, 0, (event_name = 'LeadSubmitted')::integer,
           (event_name = 'Purchase')::integer
    FROM wabahook.ad_conversion
    WHERE event_at >= (current_date - %(days)s + 1)::timestamp AT TIME ZONE 'UTC'
      AND (%(channel)s::text IS NULL OR channel = %(channel)s)
      AND (%(phone_number_id)s::text IS NULL OR phone_number_id = %(phone_number_id)s)
) counted
GROUP BY day
ORDER BY day;

-- name: history_period
-- Coexistence history syncs whose latest new chunk came in the period, one row per
-- channel and business number.
SELECT channel, phone_number_id, progress, completed, chunks, error_code, last_received_at,
       messages, media_pending
FROM wabahook.history_progress
WHERE last_received_at >= (current_date - %(days)s + 1)::timestamp AT TIME ZONE 'UTC'
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(phone_number_id)s::text IS NULL OR phone_number_id = %(phone_number_id)s)
ORDER BY channel, phone_number_id;
