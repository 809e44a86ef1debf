-- name: channel_auth
-- The channel's state and what proves its deliveries (no rows when unknown), in one
-- round trip whatever its kind: a Basic channel's valid credentials, or a signed
-- (meta or partner) channel's valid sealed secrets (receiver.sealing). Their order
-- does not matter.
SELECT c.enabled, c.auth, c.max_body_bytes, cc.username, cc.secret_sha256, NULL::text AS kind,
       NULL::bytea AS sealed
FROM wabahook.channels c
LEFT JOIN wabahook.channel_credentials cc
       ON cc.channel = c.name AND (cc.expires_at IS NULL OR cc.expires_at > now())
WHERE c.name = %(channel)s AND c.auth = 'basic'
UNION ALL
SELECT c.enabled, c.auth, c.max_body_bytes, NULL, NULL, s.kind, s.sealed
FROM wabahook.channels c
LEFT JOIN wabahook.channel_meta_secrets s
       ON s.channel = c.name AND (s.expires_at IS NULL OR s.expires_at > now())
WHERE c.name = %(channel)s AND c.auth <> 'basic';

-- name: secret_key_check
-- The check value sealed with the key that sealed the signed channels' secrets, and
-- whether any signed (meta or partner) channel exists (then a key is needed).
SELECT (SELECT sealed FROM wabahook.secret_key_check) AS sealed,
       EXISTS (SELECT FROM wabahook.channels WHERE auth <> 'basic') AS meta_channels;

-- name: store_event
-- Stores one delivery and queues it for processing in one statement (transactional outbox).
SELECT wabahook.store_event(%(channel)s, %(body)s, %(body_sha256)s, %(content_type)s,
                            %(headers)s, %(client_addr)s, %(request_id)s) AS raw_event_id;

-- name: ping
-- Readiness: the database answers.
SELECT 1 AS ok;
