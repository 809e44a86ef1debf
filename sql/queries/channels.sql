-- name: create_channel
INSERT INTO wabahook.channels (name, phone_number)
VALUES (%(name)s, %(phone_number)s)
ON CONFLICT (name) DO NOTHING
RETURNING name;

-- name: add_credential
INSERT INTO wabahook.channel_credentials (channel, username, secret_sha256)
VALUES (%(channel)s, %(username)s, %(secret_sha256)s)
RETURNING id;

-- name: lock_channel
SELECT name, enabled, phone_number FROM wabahook.channels WHERE name = %(name)s FOR UPDATE;

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
SELECT c.name, c.phone_number, c.enabled, c.created_at,
       count(cc.id) AS valid_credentials,
       (SELECT max(received_at) FROM wabahook.raw_events r WHERE r.channel = c.name) AS last_received_at
FROM wabahook.channels c
LEFT JOIN wabahook.channel_credentials cc
       ON cc.channel = c.name AND (cc.expires_at IS NULL OR cc.expires_at > now())
GROUP BY c.name
ORDER BY c.name;

-- name: expire_credential_by_secret
UPDATE wabahook.channel_credentials SET expires_at = now()
WHERE channel = %(channel)s AND secret_sha256 = %(secret_sha256)s
RETURNING id;

-- name: set_phone_number
UPDATE wabahook.channels SET phone_number = %(phone_number)s, updated_at = now()
WHERE name = %(name)s
RETURNING name;
