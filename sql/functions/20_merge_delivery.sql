-- Merges two delivery records of one message. Commutative, associative and
-- idempotent: the result does not depend on order or repetition. A key orders the
-- statuses a value may come from (time, then the raw event, then the value itself), so
-- equal keys always carry equal values.
CREATE OR REPLACE FUNCTION wabahook.merge_delivery(a wabahook.delivery_facts, b wabahook.delivery_facts)
RETURNS wabahook.delivery_facts
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    m wabahook.delivery_facts := a;
BEGIN
    m.sent_at := least(a.sent_at, b.sent_at);
    m.delivered_at := least(a.delivered_at, b.delivered_at);
    m.read_at := least(a.read_at, b.read_at);
    m.played_at := least(a.played_at, b.played_at);
    m.deleted_at := least(a.deleted_at, b.deleted_at);
    m.first_status_at := least(a.first_status_at, b.first_status_at);
    m.progress_rank := greatest(a.progress_rank, b.progress_rank);
    m.progress_at := greatest(a.progress_at, b.progress_at);
    m.failed_at := greatest(a.failed_at, b.failed_at);
    m.error_codes := CASE
        WHEN a.failed_at IS NOT DISTINCT FROM b.failed_at THEN
            ARRAY(SELECT DISTINCT c FROM unnest(a.error_codes || b.error_codes) c ORDER BY c)
        WHEN b.failed_at IS NOT NULL AND (a.failed_at IS NULL OR b.failed_at > a.failed_at) THEN b.error_codes
        ELSE a.error_codes END;
    IF wabahook.earlier_key(a.recipient_key, b.recipient_key) THEN
        m.recipient_id := b.recipient_id;
        m.recipient_key := b.recipient_key;
    END IF;
    IF wabahook.earlier_key(a.recipient_user_key, b.recipient_user_key) THEN
        m.recipient_user_id := b.recipient_user_id;
        m.recipient_parent_user_id := b.recipient_parent_user_id;
        m.recipient_user_key := b.recipient_user_key;
    END IF;
    IF wabahook.earlier_key(a.billing_key, b.billing_key) THEN
        m.conversation_id := b.conversation_id;
        m.pricing_category := b.pricing_category;
        m.billable := b.billable;
        m.billing_key := b.billing_key;
    END IF;
    IF wabahook.earlier_key(a.pricing_model_key, b.pricing_model_key) THEN
        m.pricing_model := b.pricing_model;
        m.pricing_model_key := b.pricing_model_key;
    END IF;
    IF wabahook.earlier_key(a.pricing_type_key, b.pricing_type_key) THEN
        m.pricing_type := b.pricing_type;
        m.pricing_type_key := b.pricing_type_key;
    END IF;
    IF wabahook.earlier_key(a.callback_key, b.callback_key) THEN
        m.biz_opaque_callback_data := b.biz_opaque_callback_data;
        m.callback_key := b.callback_key;
    END IF;
    -- The latest: b wins when a has none or b's key is the later one.
    IF b.phone_number_key IS NOT NULL
       AND (a.phone_number_key IS NULL OR b.phone_number_key > a.phone_number_key) THEN
        m.phone_number_id := b.phone_number_id;
        m.phone_number_key := b.phone_number_key;
    END IF;
    RETURN m;
END
$$;

-- Folds every delivery record of a message into one with merge_delivery().
CREATE OR REPLACE AGGREGATE wabahook.merged_delivery(wabahook.delivery_facts) (
    SFUNC = wabahook.merge_delivery,
    STYPE = wabahook.delivery_facts
);
