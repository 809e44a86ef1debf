-- Meta-direct channels (SPEC §3b): Meta's Cloud API sends no custom headers, so such a
-- channel is verified with a GET handshake (its verify token) and signed bodies
-- (X-Hub-Signature-256 under its app secret) instead of Basic credentials.

ALTER TABLE wabahook.channels
    ADD COLUMN auth text NOT NULL DEFAULT 'basic' CHECK (auth IN ('basic', 'meta'));

-- A meta channel's app secrets (two valid during a rotation) and verify token, each
-- sealed with Fernet under WABAHOOK_SECRET_KEY: never kept in plain text.
CREATE TABLE wabahook.channel_meta_secrets (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel    text NOT NULL REFERENCES wabahook.channels (name),
    kind       text NOT NULL CHECK (kind IN ('app_secret', 'verify_token')),
    sealed     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);
CREATE INDEX channel_meta_secrets_channel ON wabahook.channel_meta_secrets (channel);

-- A known value sealed with the key that sealed the secrets above: a process given
-- another key finds out at start, with a one-line error, not by refusing every delivery.
CREATE TABLE wabahook.secret_key_check (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    sealed     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
