-- Ads and marketing signals (processors/pipeline/projections/conversions.py,
-- link_clicks.py). The public SQL surface. Columns may be added, never renamed or dropped.

CREATE VIEW wabahook.ad_conversions AS
SELECT channel, message_id, event_name, ctwa_clid, value, currency, event_at, waba_id,
       phone_number_id, details, raw_event_id, received_at
FROM wabahook.ad_conversion;
COMMENT ON VIEW wabahook.ad_conversions IS
    'One row per conversion Meta detected in a Click-to-WhatsApp ad conversation (channel, '
    'message id, event name, time): LeadSubmitted, Purchase (value, currency), ...';

CREATE VIEW wabahook.link_clicks AS
SELECT channel, action_type, click_id, click_component, product_id, tracking_token, clicked_at,
       waba_id, phone_number_id, details, raw_event_id, received_at
FROM wabahook.link_click;
COMMENT ON VIEW wabahook.link_clicks IS
    'One row per click on a marketing message''s link (deduplicated by click_id, else the '
    'tracking token and time).';

-- Each ad click (ctwa_clid) a customer's first message or a conversion names, with what
-- came of it. The message: the earliest by sent_at (ties: the lower message id).
CREATE VIEW wabahook.ad_attribution AS
WITH referred AS (
    SELECT DISTINCT ON (channel, payload #>> '{referral,ctwa_clid}')
           channel, payload #>> '{referral,ctwa_clid}' AS ctwa_clid, person_id,
           sent_at AS first_message_at, payload #>> '{referral,source_id}' AS source_id,
           payload #>> '{referral,headline}' AS headline
    FROM wabahook.messages_inbound
    WHERE octet_length(payload #>> '{referral,ctwa_clid}') BETWEEN 1 AND 512
    ORDER BY channel, payload #>> '{referral,ctwa_clid}', sent_at, message_id
), converted AS (
    SELECT channel, ctwa_clid,
           count(*) FILTER (WHERE event_name = 'LeadSubmitted') AS leads,
           min(event_at) FILTER (WHERE event_name = 'LeadSubmitted') AS lead_at,
           count(*) FILTER (WHERE event_name = 'Purchase') AS purchases,
           CASE WHEN count(DISTINCT currency) FILTER (WHERE event_name = 'Purchase') = 1
                 AND count(*) FILTER (WHERE event_name = 'Purchase' AND currency IS NULL) = 0
                THEN sum(value) FILTER (WHERE event_name = 'Purchase') END AS purchase_value,
           CASE WHEN count(DISTINCT currency) FILTER (WHERE event_name = 'Purchase') = 1
                 AND count(*) FILTER (WHERE event_name = 'Purchase' AND currency IS NULL) = 0
                THEN min(currency) FILTER (WHERE event_name = 'Purchase') END AS currency
    FROM wabahook.ad_conversion
    WHERE ctwa_clid IS NOT NULL
    GROUP BY channel, ctwa_clid
)
SELECT channel, ctwa_clid, r.person_id, r.first_message_at, r.source_id, r.headline,
       coalesce(c.leads, 0) AS leads, c.lead_at, coalesce(c.purchases, 0) AS purchases,
       c.purchase_value, c.currency
FROM referred r
FULL JOIN converted c USING (channel, ctwa_clid);
COMMENT ON VIEW wabahook.ad_attribution IS
    'One row per ad click (channel, ctwa_clid) a customer''s message referral or a '
    'conversion named: the customer, their first message, the ad, leads and purchases '
    '(purchase_value only when the purchases share one currency).';
