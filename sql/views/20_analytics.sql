-- Analytics. Each view has a twin function taking a time zone name, for
-- days and hours other than UTC's: SELECT * FROM wabahook.delivery_funnel_daily_in('Europe/Berlin').
-- The daily ones also take a phone number id (NULL: every number), for one business
-- number of a channel that delivers several: delivery_funnel_daily_in('UTC', '1065…').
-- A message belongs to the number of its latest status that named one.

CREATE OR REPLACE FUNCTION wabahook.delivery_funnel_daily_in(tz text, phone_number text DEFAULT NULL)
RETURNS TABLE (day date, channel text, sent bigint, delivered bigint, read bigint, failed bigint,
               delivered_rate numeric, read_rate numeric)
LANGUAGE sql STABLE AS $$
    SELECT day, channel, sent, delivered, read, failed,
           round(delivered::numeric / nullif(sent, 0), 4),
           round(read::numeric / nullif(delivered, 0), 4)
    FROM (
        SELECT (first_status_at AT TIME ZONE tz)::date AS day, channel,
               count(*) AS sent,
               count(*) FILTER (WHERE progress_rank >= 2) AS delivered,
               count(*) FILTER (WHERE progress_rank >= 3) AS read,
               count(*) FILTER (WHERE wabahook.current_status(progress_rank, progress_at, failed_at, deleted_at) = 'failed') AS failed
        FROM wabahook.message_delivery
        WHERE (progress_rank IS NOT NULL OR failed_at IS NOT NULL)  -- outbound: deleted-only rows are inbound
          AND (phone_number IS NULL OR phone_number_id = phone_number)
        GROUP BY 1, 2
    ) counted
$$;
CREATE VIEW wabahook.delivery_funnel_daily AS
SELECT * FROM wabahook.delivery_funnel_daily_in('UTC');
COMMENT ON VIEW wabahook.delivery_funnel_daily IS
    'Per UTC day of a message''s earliest status and channel: outbound messages sent, delivered (read and played count as delivered), read, currently failed, and the rates delivered/sent and read/delivered (NULL when dividing by 0).';

CREATE OR REPLACE FUNCTION wabahook.delivery_latency_daily_in(tz text, phone_number text DEFAULT NULL)
RETURNS TABLE (day date, channel text, messages bigint,
               p50_sent_to_delivered_seconds double precision, p90_sent_to_delivered_seconds double precision,
               p50_delivered_to_read_seconds double precision, p90_delivered_to_read_seconds double precision)
LANGUAGE sql STABLE AS $$
    SELECT (first_status_at AT TIME ZONE tz)::date, channel, count(*),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - sent_at)),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - sent_at)),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM read_at - delivered_at)),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM read_at - delivered_at))
    FROM wabahook.message_delivery
    WHERE sent_at IS NOT NULL AND delivered_at IS NOT NULL
      AND (phone_number IS NULL OR phone_number_id = phone_number)
    GROUP BY 1, 2
$$;
CREATE VIEW wabahook.delivery_latency_daily AS
SELECT * FROM wabahook.delivery_latency_daily_in('UTC');
COMMENT ON VIEW wabahook.delivery_latency_daily IS
    'Per UTC day and channel: median and 90th percentile seconds from sent to delivered and from delivered to read, over messages with both sent and delivered statuses.';

CREATE OR REPLACE FUNCTION wabahook.conversations_daily_in(tz text, phone_number text DEFAULT NULL)
RETURNS TABLE (day date, channel text, category text, conversations bigint, messages bigint, billable bigint)
LANGUAGE sql STABLE AS $$
    SELECT (first_status_at AT TIME ZONE tz)::date, channel, coalesce(pricing_category, 'unknown'),
           count(DISTINCT conversation_id), count(*), count(*) FILTER (WHERE billable)
    FROM wabahook.message_delivery
    WHERE billing_key IS NOT NULL AND (phone_number IS NULL OR phone_number_id = phone_number)
    GROUP BY 1, 2, 3
$$;
CREATE VIEW wabahook.conversations_daily AS
SELECT * FROM wabahook.conversations_daily_in('UTC');
COMMENT ON VIEW wabahook.conversations_daily IS
    'Per UTC day, channel and pricing category: distinct conversations, messages with pricing data, and billable messages.';

CREATE OR REPLACE FUNCTION wabahook.intake_hourly_in(tz text)
RETURNS TABLE (hour timestamp, channel text, requests bigint, duplicate_deliveries bigint,
               rejected bigint, failed bigint, queued bigint)
LANGUAGE sql STABLE AS $$
    SELECT date_trunc('hour', received_at AT TIME ZONE tz), channel, count(*),
           count(*) FILTER (WHERE duplicate_delivery),
           count(*) FILTER (WHERE state = 'rejected'),
           count(*) FILTER (WHERE state = 'failed'),
           count(*) FILTER (WHERE state = 'queued')
    FROM wabahook.raw_event_log
    GROUP BY 1, 2
$$;
CREATE VIEW wabahook.intake_hourly AS
SELECT * FROM wabahook.intake_hourly_in('UTC');
COMMENT ON VIEW wabahook.intake_hourly IS
    'Per UTC hour and channel: deliveries stored, how many repeated an earlier delivery byte for byte (sender retries), and how many are rejected, failed or still queued.';

CREATE OR REPLACE FUNCTION wabahook.failures_daily_in(tz text, phone_number text DEFAULT NULL)
RETURNS TABLE (day date, channel text, error_code integer, error_title text, messages bigint,
               error_class text)
LANGUAGE sql STABLE AS $fn$
    SELECT f.day, f.channel, f.error_code, f.error_title, f.messages, wabahook.error_class(f.error_code)
    FROM (
        SELECT (s.status_at AT TIME ZONE tz)::date AS day, s.channel,
               CASE WHEN e.error ->> 'code' ~ '^-?[0-9]{1,9}$' THEN (e.error ->> 'code')::integer END AS error_code,
               e.error ->> 'title' AS error_title,
               count(DISTINCT s.message_id) AS messages
        FROM wabahook.status_event s
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(s.payload -> 'errors') = 'array' THEN s.payload -> 'errors' ELSE '[{}]' END
        ) AS e(error)
        WHERE s.status = 'failed' AND (phone_number IS NULL OR s.phone_number_id = phone_number)
        GROUP BY 1, 2, 3, 4
    ) f
$fn$;
CREATE VIEW wabahook.failures_daily AS
SELECT * FROM wabahook.failures_daily_in('UTC');
COMMENT ON VIEW wabahook.failures_daily IS
    'Per UTC day of the failure, channel, error code and title: how many messages failed with it, and the code''s class from error_codes (other when not listed; the full errors stay in status_events.errors).';

CREATE OR REPLACE FUNCTION wabahook.pricing_daily_in(tz text, phone_number text DEFAULT NULL)
RETURNS TABLE (day date, channel text, pricing_category text, pricing_type text, messages bigint)
LANGUAGE sql STABLE AS $fn$
    SELECT (first_status_at AT TIME ZONE tz)::date, channel, pricing_category, pricing_type, count(*)
    FROM (
        -- A message to one person: counted once.
        SELECT d.first_status_at, d.channel, d.pricing_category, d.pricing_type
        FROM wabahook.message_delivery d
        WHERE d.pricing_model = 'PMP'  -- per-message pricing: one price per message
          AND (phone_number IS NULL OR d.phone_number_id = phone_number)
          AND NOT EXISTS (SELECT FROM wabahook.status_event s
                          WHERE s.channel = d.channel AND s.message_id = d.message_id
                            AND s.participant <> '')
        UNION ALL
        -- A group message is charged per participant: each one with a priced status counted
        -- once (its earliest priced status), on the day of the message's first status.
        SELECT d.first_status_at, p.channel, p.pricing_category, p.pricing_type
        FROM (
            SELECT DISTINCT ON (channel, message_id, participant)
                   channel, message_id, pricing_category, pricing_type
            FROM wabahook.status_event
            WHERE participant <> '' AND pricing_model = 'PMP'
            ORDER BY channel, message_id, participant, status_at, status, pricing_category,
                     pricing_type
        ) p
        JOIN wabahook.message_delivery d USING (channel, message_id)
        WHERE phone_number IS NULL OR d.phone_number_id = phone_number
    ) priced
    GROUP BY 1, 2, 3, 4
$fn$;
CREATE VIEW wabahook.pricing_daily AS
SELECT * FROM wabahook.pricing_daily_in('UTC');
COMMENT ON VIEW wabahook.pricing_daily IS
    'Per UTC day of a message''s earliest status, channel, pricing category and pricing type (regular = charged, free_customer_service, free_entry_point): outbound messages priced per message (pricing_model PMP), each counted once (a group message once per participant with a priced status).';
