-- 360dialog partner channels: a partner's own webhook URL (Partner Hub) receives partner
-- events and Coexistence history wrapped as {"id", "event", "data"}, each body signed
-- with x-360dialog-signature (HMAC-SHA256 under the partner's platform secret). The
-- platform secret is sealed like a meta channel's app secret.

ALTER TABLE wabahook.channels DROP CONSTRAINT channels_auth_check;
ALTER TABLE wabahook.channels
    ADD CONSTRAINT channels_auth_check CHECK (auth IN ('basic', 'meta', '360dialog-partner'));

ALTER TABLE wabahook.channel_meta_secrets DROP CONSTRAINT channel_meta_secrets_kind_check;
ALTER TABLE wabahook.channel_meta_secrets
    ADD CONSTRAINT channel_meta_secrets_kind_check
    CHECK (kind IN ('app_secret', 'verify_token', 'platform_secret'));
