-- Link clicks (processors/pipeline/projections/link_clicks.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_link_click
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_link_click (
    raw_event_id bigint, channel text, action_type text, click_id text, click_component text,
    product_id text, tracking_token text, clicked_at bigint, waba_id text, phone_number_id text,
    path text
) ON COMMIT DELETE ROWS;

-- name: project_link_clicks
-- A click is its click_id, else its tracking token and time, else its whole item: the
-- same click delivered again is one row; among items naming it, the lowest raw event wins.
INSERT INTO {projections}.link_click AS t
    (channel, click_key, action_type, click_id, click_component, product_id, tracking_token,
     clicked_at, waba_id, phone_number_id, details, raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, k.click_key)
       s.channel, k.click_key, s.action_type, s.click_id, s.click_component, s.product_id,
       s.tracking_token, to_timestamp(s.clicked_at), s.waba_id, s.phone_number_id, i.item,
       s.raw_event_id, d.received_at
FROM stage_link_click s JOIN stage_doc d USING (raw_event_id)
CROSS JOIN LATERAL (
    SELECT (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)) AS item
) i
CROSS JOIN LATERAL (
    SELECT coalesce('click:' || s.click_id,
                    'token:' || s.tracking_token || ':' || s.clicked_at,
                    'item:' || encode(sha256(convert_to(i.item::text, 'UTF8')), 'hex')) AS click_key
) k
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, k.click_key, s.raw_event_id, s.path
ON CONFLICT (channel, click_key) DO UPDATE SET
    (action_type, click_id, click_component, product_id, tracking_token, clicked_at, waba_id,
     phone_number_id, details, raw_event_id, received_at)
  = (excluded.action_type, excluded.click_id, excluded.click_component, excluded.product_id,
     excluded.tracking_token, excluded.clicked_at, excluded.waba_id, excluded.phone_number_id,
     excluded.details, excluded.raw_event_id, excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;
