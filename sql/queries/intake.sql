-- name: channel_auth
-- The channel's state and its currently valid credentials (none when unknown).
SELECT c.enabled, cc.username, cc.secret_sha256
FROM wabahook.channels c
LEFT JOIN wabahook.channel_credentials cc
       ON cc.channel = c.name AND (cc.expires_at IS NULL OR cc.expires_at > now())
WHERE c.name = %(channel)s;

-- name: store_event
-- Stores one delivery and queues it for processing in one statement (transactional outbox).
SELECT wabahook.store_event(%(channel)s, %(body)s, %(body_sha256)s, %(content_type)s,
                            %(headers)s, %(client_addr)s, %(request_id)s) AS raw_event_id;

-- name: ping
-- Readiness: the database answers.
SELECT 1 AS ok;
