-- `forward` keeps a --to URL's user:password out of what it stores (it sends them as
-- Basic auth); rows stored before lose theirs here. Where the same destination was
-- also used without credentials, the two rows become one, delivered if either was.
CREATE TEMPORARY TABLE forward_with_credentials ON COMMIT DROP AS
SELECT regexp_replace(destination, '^([^:/?#]*://)[^/?#]*@', '\1') AS destination,
       raw_event_id, status, attempts, error, first_attempt_at, last_attempt_at, delivered_at
FROM wabahook.forward_deliveries
WHERE destination ~ '^[^:/?#]*://[^/?#]*@';

DELETE FROM wabahook.forward_deliveries WHERE destination ~ '^[^:/?#]*://[^/?#]*@';

INSERT INTO wabahook.forward_deliveries AS kept
    (destination, raw_event_id, status, attempts, error, first_attempt_at, last_attempt_at,
     delivered_at)
SELECT DISTINCT ON (destination, raw_event_id)
       destination, raw_event_id, status, attempts, error, first_attempt_at, last_attempt_at,
       delivered_at
FROM forward_with_credentials
ORDER BY destination, raw_event_id, delivered_at NULLS LAST, last_attempt_at DESC
ON CONFLICT (destination, raw_event_id) DO UPDATE SET
    status = CASE WHEN kept.delivered_at IS NULL AND EXCLUDED.delivered_at IS NOT NULL
                  THEN EXCLUDED.status ELSE kept.status END,
    error = CASE WHEN kept.delivered_at IS NULL AND EXCLUDED.delivered_at IS NOT NULL
                 THEN EXCLUDED.error ELSE kept.error END,
    attempts = kept.attempts + EXCLUDED.attempts,
    first_attempt_at = least(kept.first_attempt_at, EXCLUDED.first_attempt_at),
    last_attempt_at = greatest(kept.last_attempt_at, EXCLUDED.last_attempt_at),
    delivered_at = coalesce(kept.delivered_at, EXCLUDED.delivered_at);
