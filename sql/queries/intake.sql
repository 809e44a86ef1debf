-- name: channel_auth
-- The channel's state and its currently valid credentials (none when unknown).
SELECT c.enabled, c.auth, cc.username, cc.secret_sha256
FROM wabahook.channels c
LEFT JOIN wabahook.channel_credentials cc
       ON cc.channel = c.name AND (cc.expires_at IS NULL OR cc.expires_at > now())
WHERE c.name = %(channel)s;

-- name: channel_meta_secrets
-- A meta channel's valid app secrets and verify tokens, sealed (receiver.sealing).
SELECT kind, sealed FROM wabahook.channel_meta_secrets
WHERE channel = %(channel)s AND (expires_at IS NULL OR expires_at > now())
ORDER BY id;

-- name: secret_key_check
-- The check value sealed with the key that sealed the meta channels' secrets, and
-- whether any meta channel exists (then a key is needed).
SELECT (SELECT sealed FROM wabahook.secret_key_check) AS sealed,
       EXISTS (SELECT FROM wabahook.channels WHERE auth = 'meta') AS meta_channels;

-- name: store_event
-- Stores one delivery and queues it for processing in one statement (transactional outbox).
SELECT wabahook.store_event(%(channel)s, %(body)s, %(body_sha256)s, %(content_type)s,
                            %(headers)s, %(client_addr)s, %(request_id)s) AS raw_event_id;

-- name: ping
-- Readiness: the database answers.
SELECT 1 AS ok;
