-- Ads and marketing signals: conversions Meta detected in Click-to-WhatsApp ad
-- conversations (field automatic_events) and clicks on marketing messages' links
-- (user_actions on the messages field).

CREATE TABLE wabahook.ad_conversion (
    channel         text NOT NULL,
    message_id      text NOT NULL,           -- the message it was detected in
    event_name      text NOT NULL,           -- LeadSubmitted, Purchase, ...
    ctwa_clid       text,
    value           numeric(20, 4),
    currency        text,
    event_at        timestamptz NOT NULL,
    waba_id         text,
    phone_number_id text,
    details         jsonb NOT NULL,          -- the item
    raw_event_id    bigint NOT NULL,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (channel, message_id, event_name, event_at)
);
CREATE INDEX ad_conversion_click ON wabahook.ad_conversion (channel, ctwa_clid);
CREATE INDEX ad_conversion_raw_event ON wabahook.ad_conversion (raw_event_id);

CREATE TABLE wabahook.link_click (
    channel         text NOT NULL,
    click_key       text NOT NULL,           -- click_id, else tracking token and time
    action_type     text NOT NULL,
    click_id        text,
    click_component text,
    product_id      text,
    tracking_token  text,
    clicked_at      timestamptz NOT NULL,
    waba_id         text,
    phone_number_id text,
    details         jsonb NOT NULL,
    raw_event_id    bigint NOT NULL,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (channel, click_key)
);
CREATE INDEX link_click_raw_event ON wabahook.link_click (raw_event_id);

-- ad_attribution reads the ad click of inbound messages' referrals: a sender's text,
-- so only one that fits an index row is indexed (and attributed).
CREATE INDEX inbound_message_ctwa_clid ON wabahook.inbound_message
    (channel, (payload #>> '{referral,ctwa_clid}'))
    WHERE octet_length(payload #>> '{referral,ctwa_clid}') BETWEEN 1 AND 512;
