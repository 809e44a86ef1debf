-- name: create_channel
INSERT INTO wabahook.channels (name, phone_number, auth)
VALUES (%(name)s, %(phone_number)s, %(auth)s)
ON CONFLICT (name) DO NOTHING
RETURNING name;

-- name: add_credential
INSERT INTO wabahook.channel_credentials (channel, username, secret_sha256)
VALUES (%(channel)s, %(username)s, %(secret_sha256)s)
RETURNING id;

-- name: lock_channel
SELECT name, enabled, phone_number, auth FROM wabahook.channels WHERE name = %(name)s FOR UPDATE;

-- name: channel_kind
SELECT auth FROM wabahook.channels WHERE name = %(name)s;

-- name: valid_credentials
SELECT id, username, created_at FROM wabahook.channel_credentials
WHERE channel = %(channel)s AND (expires_at IS NULL OR expires_at > now())
ORDER BY created_at DESC, id DESC;

-- name: expire_credentials_except
-- Ends every valid credential of a channel but the one given.
UPDATE wabahook.channel_credentials SET expires_at = now()
WHERE channel = %(channel)s AND id <> %(keep_id)s AND (expires_at IS NULL OR expires_at > now())
RETURNING id;

-- name: set_channel_enabled
UPDATE wabahook.channels SET enabled = %(enabled)s, updated_at = now()
WHERE name = %(name)s
RETURNING name;

-- name: list_channels
-- valid_credentials: a Basic channel's credentials, a signed channel's signing secrets
-- (a meta channel's app secrets, a partner channel's platform secrets).
SELECT c.name, c.auth, c.phone_number, c.enabled, c.created_at, c.max_body_bytes,
       extract(epoch FROM c.retention)::bigint AS retention_seconds,
       CASE c.auth
           WHEN 'basic' THEN (SELECT count(*) FROM wabahook.channel_credentials cc
                 WHERE cc.channel = c.name AND (cc.expires_at IS NULL OR cc.expires_at > now()))
           ELSE (SELECT count(*) FROM wabahook.channel_meta_secrets s
                 WHERE s.channel = c.name AND s.kind IN ('app_secret', 'platform_secret')
                   AND (s.expires_at IS NULL OR s.expires_at > now()))
       END AS valid_credentials,
       (SELECT max(received_at) FROM wabahook.raw_events r WHERE r.channel = c.name) AS last_received_at
FROM wabahook.channels c
ORDER BY c.name;

-- name: expire_credential_by_secret
UPDATE wabahook.channel_credentials SET expires_at = now()
WHERE channel = %(channel)s AND secret_sha256 = %(secret_sha256)s
RETURNING id;

-- name: set_phone_number
UPDATE wabahook.channels SET phone_number = %(phone_number)s, updated_at = now()
WHERE name = %(name)s
RETURNING name;

-- name: add_meta_secret
INSERT INTO wabahook.channel_meta_secrets (channel, kind, sealed)
VALUES (%(channel)s, %(kind)s, %(sealed)s);

-- name: valid_meta_secrets
SELECT id, created_at FROM wabahook.channel_meta_secrets
WHERE channel = %(channel)s AND kind = %(kind)s AND (expires_at IS NULL OR expires_at > now())
ORDER BY created_at DESC, id DESC;

-- name: expire_meta_secrets_except
UPDATE wabahook.channel_meta_secrets SET expires_at = now()
WHERE channel = %(channel)s AND kind = %(kind)s AND id <> %(keep_id)s
  AND (expires_at IS NULL OR expires_at > now())
RETURNING id;

-- name: store_secret_key_check
-- The first sealed secret brings the key's check value; a later one finds it there.
INSERT INTO wabahook.secret_key_check (sealed) VALUES (%(sealed)s) ON CONFLICT DO NOTHING;

-- name: newest_meta_secret
SELECT sealed FROM wabahook.channel_meta_secrets
WHERE channel = %(channel)s AND kind = %(kind)s AND (expires_at IS NULL OR expires_at > now())
ORDER BY created_at DESC, id DESC
LIMIT 1;

-- name: set_max_body
-- NULL: back to the default limit.
UPDATE wabahook.channels SET max_body_bytes = %(max_body_bytes)s, updated_at = now()
WHERE name = %(name)s
RETURNING name, max_body_bytes;
