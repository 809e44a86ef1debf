-- The relay's deliveries (processors/relay/).
-- The public SQL surface. Columns may be added, never renamed or dropped.

CREATE VIEW wabahook.destination_deliveries AS
SELECT d.name AS destination, r.raw_event_id, nullif(r.fact_key, '') AS fact_key, r.channel,
       r.state, r.attempts, r.last_status, r.last_error, r.last_attempt_at,
       CASE WHEN r.state IN ('pending', 'retrying') THEN r.next_attempt_at END
           AS next_attempt_at,
       r.delivered_at, r.stored_at,
       round((extract(epoch FROM r.delivered_at - r.stored_at) * 1000)::numeric, 1)
           AS latency_ms
FROM wabahook.relay_deliveries r
JOIN wabahook.destinations d ON d.id = r.destination_id;
COMMENT ON VIEW wabahook.destination_deliveries IS
    'One row per event (or fact) and destination: pending, retrying, delivered or dead, with'
    ' its last attempt; latency_ms from stored to acknowledged.';

CREATE VIEW wabahook.destinations_health AS
SELECT d.name AS destination, d.url, d.format, d.paused,
       count(*) FILTER (WHERE r.state IN ('pending', 'retrying')) AS pending,
       now() - min(r.stored_at) FILTER (WHERE r.state IN ('pending', 'retrying'))
           AS oldest_pending_age,
       count(*) FILTER (WHERE r.state = 'delivered' AND r.delivered_at > now() - interval '1 hour')
           AS delivered_last_hour,
       count(*) FILTER (WHERE r.state = 'dead' AND r.last_attempt_at > now() - interval '1 hour')
           AS dead_last_hour,
       round(
           (count(*) FILTER (WHERE r.state = 'delivered'
                             AND r.delivered_at > now() - interval '1 hour'))::numeric
           / nullif(count(*) FILTER (WHERE r.state IN ('delivered', 'dead')
                                     AND r.last_attempt_at > now() - interval '1 hour'), 0),
           4) AS success_rate,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY
           extract(epoch FROM r.delivered_at - r.stored_at) * 1000)
           FILTER (WHERE r.delivered_at > now() - interval '1 hour') AS p50_latency_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY
           extract(epoch FROM r.delivered_at - r.stored_at) * 1000)
           FILTER (WHERE r.delivered_at > now() - interval '1 hour') AS p99_latency_ms
FROM wabahook.destinations d
LEFT JOIN wabahook.relay_deliveries r ON r.destination_id = d.id
GROUP BY d.id;
COMMENT ON VIEW wabahook.destinations_health IS
    'Per destination: what waits and since when, delivered and dead in the last hour, the'
    ' success rate of deliveries that ended in it, p50/p99 stored-to-acknowledged latency.';
