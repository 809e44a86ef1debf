-- Template notifications, and each template's current state (processors/pipeline/projections/templates.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_template_event
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_template_event (
    raw_event_id bigint, channel text, waba_id text, phone_number_id text, field text,
    position integer, entry_time bigint, path text, template_id text, template_name text,
    language text, kind text, event text, previous text, reason text, category text,
    correct_category text, category_update_at bigint
) ON COMMIT DELETE ROWS;

-- name: project_template_events
INSERT INTO {projections}.template_event AS t
    (channel, dedup_key, waba_id, phone_number_id, field, template_id, template_name, language,
     kind, event, previous, reason, category, correct_category, category_update_at, details,
     event_at, raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, k.dedup_key)
       s.channel, k.dedup_key, s.waba_id, s.phone_number_id, s.field, s.template_id,
       s.template_name, s.language, s.kind, s.event, s.previous, s.reason, s.category,
       s.correct_category, to_timestamp(s.category_update_at),
       jsonb_extract_path(d.doc, VARIADIC string_to_array(s.path, ',')),
       coalesce(to_timestamp(s.entry_time), d.received_at), s.raw_event_id, d.received_at
FROM stage_template_event s JOIN stage_doc d USING (raw_event_id)
CROSS JOIN LATERAL (
    SELECT wabahook.management_key(s.waba_id, s.field, s.kind, s.template_id, s.event,
                                   s.entry_time, d.body_sha256, s.position) AS dedup_key
) k
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, k.dedup_key, s.raw_event_id, s.position
ON CONFLICT (channel, dedup_key) DO UPDATE SET
    (waba_id, phone_number_id, field, template_id, template_name, language, kind, event,
     previous, reason, category, correct_category, category_update_at, details, event_at,
     raw_event_id, received_at)
  = (excluded.waba_id, excluded.phone_number_id, excluded.field, excluded.template_id,
     excluded.template_name, excluded.language, excluded.kind, excluded.event, excluded.previous,
     excluded.reason, excluded.category, excluded.correct_category, excluded.category_update_at,
     excluded.details, excluded.event_at, excluded.raw_event_id, excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;

-- name: project_templates
-- Each attribute is that of the latest fact naming it (template_fact_key: event time,
-- then the later raw event): within the batch by aggregation, across batches by
-- later_key, so the result is the same in any order. An announced recategorisation
-- is not a category yet; a status update's template category is one.
INSERT INTO {projections}.template_state AS t
SELECT channel, waba_id, template_id,
       (array_agg(template_name ORDER BY key DESC) FILTER (WHERE named))[1],
       (array_agg(language ORDER BY key DESC) FILTER (WHERE named))[1],
       max(key) FILTER (WHERE named),
       (array_agg(event ORDER BY key DESC) FILTER (WHERE is_status))[1],
       (array_agg(reason ORDER BY key DESC) FILTER (WHERE is_status))[1],
       (array_agg(at ORDER BY key DESC) FILTER (WHERE is_status))[1],
       max(key) FILTER (WHERE is_status),
       (array_agg(event ORDER BY key DESC) FILTER (WHERE is_quality))[1],
       (array_agg(at ORDER BY key DESC) FILTER (WHERE is_quality))[1],
       max(key) FILTER (WHERE is_quality),
       (array_agg(new_category ORDER BY key DESC) FILTER (WHERE new_category IS NOT NULL))[1],
       (array_agg(at ORDER BY key DESC) FILTER (WHERE new_category IS NOT NULL))[1],
       max(key) FILTER (WHERE new_category IS NOT NULL)
FROM (
    SELECT s.channel, s.waba_id, s.template_id, s.template_name, s.language, s.event,
           s.reason, f.at, wabahook.template_fact_key(f.at, s.raw_event_id, s.position) COLLATE "C" AS key,
           s.template_name IS NOT NULL OR s.language IS NOT NULL AS named,
           s.kind = 'status' AND s.event IS NOT NULL AS is_status,
           s.kind = 'quality' AND s.event IS NOT NULL AS is_quality,
           CASE s.kind WHEN 'category' THEN s.event WHEN 'status' THEN s.category END AS new_category
    FROM stage_template_event s JOIN stage_doc d USING (raw_event_id)
    CROSS JOIN LATERAL (SELECT coalesce(to_timestamp(s.entry_time), d.received_at) AS at) f
    WHERE ({ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids}))
      AND s.waba_id IS NOT NULL AND s.template_id IS NOT NULL
) s
GROUP BY channel, waba_id, template_id
ORDER BY channel, waba_id, template_id  -- one lock order for every drain: no deadlocks between them
ON CONFLICT (channel, waba_id, template_id) DO UPDATE SET
    template_name = CASE WHEN wabahook.later_key(t.name_key, excluded.name_key)
                         THEN excluded.template_name ELSE t.template_name END,
    language = CASE WHEN wabahook.later_key(t.name_key, excluded.name_key)
                    THEN excluded.language ELSE t.language END,
    name_key = CASE WHEN wabahook.later_key(t.name_key, excluded.name_key)
                    THEN excluded.name_key ELSE t.name_key END,
    status = CASE WHEN wabahook.later_key(t.status_key, excluded.status_key)
                  THEN excluded.status ELSE t.status END,
    status_reason = CASE WHEN wabahook.later_key(t.status_key, excluded.status_key)
                         THEN excluded.status_reason ELSE t.status_reason END,
    status_at = CASE WHEN wabahook.later_key(t.status_key, excluded.status_key)
                     THEN excluded.status_at ELSE t.status_at END,
    status_key = CASE WHEN wabahook.later_key(t.status_key, excluded.status_key)
                      THEN excluded.status_key ELSE t.status_key END,
    quality = CASE WHEN wabahook.later_key(t.quality_key, excluded.quality_key)
                   THEN excluded.quality ELSE t.quality END,
    quality_at = CASE WHEN wabahook.later_key(t.quality_key, excluded.quality_key)
                      THEN excluded.quality_at ELSE t.quality_at END,
    quality_key = CASE WHEN wabahook.later_key(t.quality_key, excluded.quality_key)
                       THEN excluded.quality_key ELSE t.quality_key END,
    category = CASE WHEN wabahook.later_key(t.category_key, excluded.category_key)
                    THEN excluded.category ELSE t.category END,
    category_at = CASE WHEN wabahook.later_key(t.category_key, excluded.category_key)
                       THEN excluded.category_at ELSE t.category_at END,
    category_key = CASE WHEN wabahook.later_key(t.category_key, excluded.category_key)
                        THEN excluded.category_key ELSE t.category_key END;
