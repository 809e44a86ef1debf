-- Per-message pricing (SPEC §5 "Operations data"): statuses keep pricing.type and the
-- sender's biz_opaque_callback_data; each message's delivery keeps its pricing model,
-- type and callback data (each from the earliest status that carries it) and the phone
-- number of its latest status; the error codes of statuses get a class and advice.

ALTER TABLE wabahook.status_event
    ADD COLUMN pricing_type text,
    ADD COLUMN biz_opaque_callback_data text;

-- The delivery facts grow at their end, in the type and in the table alike, because
-- the projection merges ROW(t.*)::wabahook.delivery_facts: the table's columns and the
-- type's attributes must line up. CASCADE adds them to the table while it is a typed
-- table (OF delivery_facts); a rebuild swaps in a plain copy (CREATE TABLE ... LIKE),
-- which gets the same columns in the same order by hand.
ALTER TYPE wabahook.delivery_facts
    ADD ATTRIBUTE pricing_model text CASCADE,
    ADD ATTRIBUTE pricing_model_key text CASCADE,        -- which status pricing_model came from
    ADD ATTRIBUTE pricing_type text CASCADE,
    ADD ATTRIBUTE pricing_type_key text CASCADE,
    ADD ATTRIBUTE biz_opaque_callback_data text CASCADE,
    ADD ATTRIBUTE callback_key text CASCADE,
    ADD ATTRIBUTE phone_number_id text CASCADE,
    ADD ATTRIBUTE phone_number_key text CASCADE;         -- the latest status that named one

DO $$
BEGIN
    IF (SELECT reloftype = 0 FROM pg_catalog.pg_class
        WHERE oid = 'wabahook.message_delivery'::pg_catalog.regclass) THEN
        ALTER TABLE wabahook.message_delivery
            ADD COLUMN pricing_model text,
            ADD COLUMN pricing_model_key text,
            ADD COLUMN pricing_type text,
            ADD COLUMN pricing_type_key text,
            ADD COLUMN biz_opaque_callback_data text,
            ADD COLUMN callback_key text,
            ADD COLUMN phone_number_id text,
            ADD COLUMN phone_number_key text;
    END IF;
END
$$;

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

-- Statuses stored before this migration: the new columns from their payloads, read by
-- the parser's rules (a string label of at most 512 bytes; a callback tag of at most
-- 512 characters). `wabahook rebuild` gives the same, and covers the rare message whose
-- repeated notifications differ.
UPDATE wabahook.status_event SET
    pricing_type = CASE
        WHEN jsonb_typeof(payload #> '{pricing,type}') = 'string'
             AND octet_length(payload #>> '{pricing,type}') <= 512
        THEN payload #>> '{pricing,type}' END,
    biz_opaque_callback_data = CASE
        WHEN jsonb_typeof(payload -> 'biz_opaque_callback_data') = 'string'
             AND char_length(payload ->> 'biz_opaque_callback_data') BETWEEN 1 AND 512
        THEN payload ->> 'biz_opaque_callback_data' END
WHERE payload ? 'pricing' OR payload ? 'biz_opaque_callback_data';

UPDATE wabahook.message_delivery d SET
    pricing_model = f.pricing_model, pricing_model_key = f.pricing_model_key,
    pricing_type = f.pricing_type, pricing_type_key = f.pricing_type_key,
    biz_opaque_callback_data = f.biz_opaque_callback_data, callback_key = f.callback_key,
    phone_number_id = f.phone_number_id, phone_number_key = f.phone_number_key
FROM (
    SELECT channel, message_id,
           (array_agg(pricing_model ORDER BY pricing_model_key) FILTER (WHERE pricing_model_key IS NOT NULL))[1] AS pricing_model,
           min(pricing_model_key) AS pricing_model_key,
           (array_agg(pricing_type ORDER BY pricing_type_key) FILTER (WHERE pricing_type_key IS NOT NULL))[1] AS pricing_type,
           min(pricing_type_key) AS pricing_type_key,
           (array_agg(biz_opaque_callback_data ORDER BY callback_key) FILTER (WHERE callback_key IS NOT NULL))[1] AS biz_opaque_callback_data,
           min(callback_key) AS callback_key,
           (array_agg(phone_number_id ORDER BY phone_number_key DESC) FILTER (WHERE phone_number_key IS NOT NULL))[1] AS phone_number_id,
           max(phone_number_key) AS phone_number_key
    FROM (
        SELECT channel, message_id, pricing_model, pricing_type, biz_opaque_callback_data, phone_number_id,
               wabahook.fact_key(status_at, event_key || pricing_model) AS pricing_model_key,
               wabahook.fact_key(status_at, event_key || pricing_type) AS pricing_type_key,
               wabahook.fact_key(status_at, event_key || biz_opaque_callback_data) AS callback_key,
               wabahook.fact_key(status_at, event_key_desc || phone_number_id) AS phone_number_key
        FROM (SELECT *, to_char(raw_event_id, 'FM0000000000000000000') || ':' AS event_key,
                     to_char(9223372036854775807 - raw_event_id, 'FM0000000000000000000') || ':' AS event_key_desc
              FROM wabahook.status_event) s
    ) keyed
    GROUP BY channel, message_id
) f
WHERE (d.channel, d.message_id) = (f.channel, f.message_id)
  AND num_nonnulls(f.pricing_model, f.pricing_type, f.biz_opaque_callback_data, f.phone_number_id) > 0;

-- failures_daily_in gains error_class: a function's result columns change only by
-- dropping it (its views are re-created from sql/views after every migrate).
DROP FUNCTION IF EXISTS wabahook.failures_daily_in(text) CASCADE;

-- Reference data: what each error code of a status or an error notification means and
-- what to do about it. Classes: opt_out, frequency_cap, window_closed, undeliverable,
-- spam_rate_limit, payment, rate_limit, template, media, experiment, authorization,
-- integrity, registration, request, service, catalog; a code not listed is `other`.
-- retryable: sending the same message again, unchanged, may succeed later (after a wait).
CREATE TABLE wabahook.error_codes (
    code      integer PRIMARY KEY,
    title     text NOT NULL,
    class     text NOT NULL,
    retryable boolean NOT NULL,
    advice    text NOT NULL
);
COMMENT ON TABLE wabahook.error_codes IS
    'One row per WhatsApp error code (Cloud API and On-Premise; ranges expanded): title, class, whether the same message may succeed when sent again later, and what to do.';

INSERT INTO wabahook.error_codes (code, title, class, retryable, advice) VALUES
    -- What the recipient chose, or Meta's limits on what they receive.
    (131050, 'Unable to deliver the message: user stopped marketing messages', 'opt_out', false,
     'The user stopped marketing messages from this business: stop sending them marketing templates until they opt in again (a user_preferences "resume").'),
    (131049, 'Not delivered to maintain healthy ecosystem engagement', 'frequency_cap', true,
     'Meta''s per-user marketing limit, not an opt-out: wait more than 24 hours before sending this user another marketing template, or send a utility template if the message is transactional.'),
    (131047, 'Re-engagement message', 'window_closed', false,
     'More than 24 hours have passed since the customer last wrote: send an approved template instead of a free-form message.'),
    (470, 'Re-engagement message (outside the 24-hour window)', 'window_closed', false,
     'On-Premise: more than 24 hours have passed since the customer last wrote: send an approved template instead.'),
    (131026, 'Message undeliverable', 'undeliverable', false,
     'The number may not be on WhatsApp, may run an old app or not have accepted the latest terms, or may have blocked the business: confirm it through another channel before sending again.'),
    (1013, 'User is not valid', 'undeliverable', false,
     'On-Premise: the recipient is not a valid WhatsApp user: check the number (country code included).'),
    (1026, 'Receiver incapable', 'undeliverable', false,
     'On-Premise: the recipient cannot receive this message (an old app, or a message type it does not support).'),
    (480, 'User potentially changed', 'undeliverable', false,
     'On-Premise: the recipient''s identity may have changed: confirm who owns the number before sending again.'),
    (131048, 'Spam rate limit hit', 'spam_rate_limit', true,
     'Too many earlier messages from this number were blocked or flagged as spam: check its quality rating in WhatsApp Manager, improve what you send and to whom, and send fewer messages until it recovers.'),
    (471, 'Spam rate limit hit', 'spam_rate_limit', true,
     'On-Premise: too many messages from this number were blocked or flagged: check its quality rating and slow down.'),
    (131042, 'Business eligibility payment issue', 'payment', false,
     'A payment problem on the account (no valid payment method, credit line over its limit, missing currency or time zone): fix the billing settings in Business Manager, then send again.'),
    (402, 'Business eligibility payment issue', 'payment', false,
     'On-Premise: fix the payment method or credit line of the WhatsApp Business Account, then send again.'),
    -- Throughput.
    (4, 'Too many API calls', 'rate_limit', true,
     'The app reached its API call limit: retry later with backoff and make fewer calls.'),
    (80007, 'Rate limit issues', 'rate_limit', true,
     'The WhatsApp Business Account reached its rate limit: retry later with backoff and spread the sending out.'),
    (130429, 'Rate limit hit', 'rate_limit', true,
     'The Cloud API throughput of this number was reached: retry later with backoff, or send more slowly.'),
    (131056, '(Business Account, Consumer Account) pair rate limit hit', 'rate_limit', true,
     'Too many messages to the same recipient in a short time: wait before sending this recipient anything else.'),
    (133016, 'Account register deregister rate limit exceeded', 'rate_limit', true,
     'Too many registration attempts for this number: wait before trying again.'),
    -- Experiments Meta runs on marketing messages.
    (130472, 'User''s number is part of an experiment', 'experiment', false,
     'Meta held this marketing message back as part of an experiment: nothing to fix; do not count it against your delivery rate.'),
    (472, 'User''s number is part of an experiment', 'experiment', false,
     'On-Premise: the message was held back by a Meta experiment: nothing to fix.'),
    -- Media and message types.
    (131051, 'Unsupported message type', 'media', false,
     'The message type is not supported (for inbound messages: the customer sent something the API cannot show): use a supported type.'),
    (131052, 'Media download error', 'media', false,
     'The media of the customer''s message could not be downloaded: ask them to send it again.'),
    (131053, 'Media upload error', 'media', false,
     'The media could not be uploaded: check its type, size and that its URL is reachable, then send again.'),
    (400, 'Media download error', 'media', false,
     'On-Premise: the media could not be downloaded: check its URL and type, then send again.'),
    (501, 'Unknown message type', 'media', false,
     'On-Premise: the customer sent a message type the API does not support.'),
    -- Templates (the rest of 132000-132069 is filled in below).
    (132000, 'Template Param Count Mismatch', 'template', false,
     'The number of parameters does not match the template: send exactly the variables it defines.'),
    (132001, 'Template does not exist', 'template', false,
     'No approved template of this name and language: check both, and that the template is approved.'),
    (132005, 'Template Hydrated Text Too Long', 'template', false,
     'The text with its parameters filled in is too long: shorten the parameters.'),
    (132007, 'Template Format Character Policy Violated', 'template', false,
     'A parameter breaks the formatting rules (new lines, tabs, too many spaces): clean the parameter values.'),
    (132012, 'Template Parameter Format Mismatch', 'template', false,
     'A parameter has the wrong format (text, currency, date, media): send what the template expects.'),
    (132015, 'Template is Paused', 'template', false,
     'The template was paused for low quality: edit it, or use another template.'),
    (132016, 'Template is Disabled', 'template', false,
     'The template was disabled for low quality: create a new template.'),
    (132068, 'Flow is blocked', 'template', false,
     'The flow of this template is blocked: fix the flow.'),
    (132069, 'Flow is throttled', 'template', true,
     'The flow of this template is throttled: send fewer messages with it for a while.'),
    (2000, 'Template param count mismatch', 'template', false,
     'On-Premise: send exactly the parameters the template defines.'),
    (2001, 'Template missing', 'template', false,
     'On-Premise: no template of this name and language: check both.'),
    (2002, 'Template fetch failed', 'template', true,
     'On-Premise: the template could not be fetched: retry later.'),
    (2003, 'Template pack missing', 'template', false,
     'On-Premise: no template of this language: check the language code.'),
    (2004, 'Template param length too long', 'template', false,
     'On-Premise: shorten the parameter values.'),
    (2005, 'Template hydrated text too long', 'template', false,
     'On-Premise: the filled-in text is too long: shorten the parameters.'),
    (2006, 'Template whitespace policy violated', 'template', false,
     'On-Premise: remove the extra whitespace from the parameters.'),
    (2007, 'Template format character policy violated', 'template', false,
     'On-Premise: remove disallowed characters (new lines, tabs) from the parameters.'),
    (2008, 'Template media format unsupported', 'template', false,
     'On-Premise: use a media format the template header supports.'),
    (2009, 'Template required component missing', 'template', false,
     'On-Premise: send every component the template requires.'),
    (2010, 'Template invalid hydrated URL', 'template', false,
     'On-Premise: the URL of a button is invalid: check its parameter.'),
    (2011, 'Template invalid phone number', 'template', false,
     'On-Premise: the phone number of a button is invalid.'),
    (2012, 'Template parameter format mismatch', 'template', false,
     'On-Premise: send parameters in the format the template expects.'),
    (2013, 'Template buttons unsupported', 'template', false,
     'On-Premise: the recipient''s app does not support these buttons.'),
    -- Catalogs (On-Premise warnings).
    (2026, 'Products not sent', 'catalog', false,
     'On-Premise warning: some catalog items of the message are unavailable: check the catalog.'),
    -- Access and policy.
    (0, 'AuthException', 'authorization', false,
     'The app user could not be authenticated: get a new access token.'),
    (3, 'API Method', 'authorization', false,
     'A capability or permission is missing: check the app''s permissions with the access token debugger.'),
    (10, 'Permission Denied', 'authorization', false,
     'A permission is missing or was removed: check the app''s permissions.'),
    (190, 'Access token has expired', 'authorization', false,
     'Get a new access token.'),
    (131005, 'Access denied', 'authorization', false,
     'A permission is missing or was removed: check the app''s permissions.'),
    (368, 'Temporarily blocked for policies violations', 'integrity', false,
     'The account is restricted for a policy violation: see the account''s policy enforcement notices.'),
    (130497, 'Business account is restricted from messaging users in this country', 'integrity', false,
     'The account may not message users in this country: see the messaging policy.'),
    (131031, 'Account has been locked', 'integrity', false,
     'The account was locked for a policy violation or wrong data: see the account''s notices and appeal if needed.'),
    -- The request itself.
    (33, 'Parameter value is not valid', 'request', false,
     'The business phone number may have been deleted: check it.'),
    (100, 'Invalid parameter', 'request', false,
     'The request had an unsupported or misspelled parameter: check it against the endpoint reference.'),
    (131008, 'Required parameter is missing', 'request', false,
     'Add the missing parameter.'),
    (131009, 'Parameter value is not valid', 'request', false,
     'A parameter value is not valid (a phone number, say): fix it.'),
    (131021, 'Recipient cannot be sender', 'request', false,
     'The message was addressed to the sending number itself: use another recipient.'),
    -- Meta's side.
    (1, 'API Unknown', 'service', true,
     'An unknown or server error: check the WhatsApp Business Platform status, then retry.'),
    (2, 'API Service', 'service', true,
     'A temporary outage or overload: retry later.'),
    (131000, 'Something went wrong', 'service', true,
     'An unknown error: retry; if it persists, contact support.'),
    (131016, 'Service unavailable', 'service', true,
     'A service is temporarily unavailable: retry later.'),
    (131057, 'Account in maintenance mode', 'service', true,
     'The account is in maintenance (a throughput upgrade, say): retry in a few minutes.'),
    (133004, 'Server temporarily unavailable', 'service', true,
     'Retry later.'),
    (500, 'Generic error', 'service', true,
     'On-Premise: an unknown error: retry; if it persists, check the client logs.'),
    -- Phone number registration.
    (131037, 'WhatsApp provided number needs display name approval before message can be sent', 'registration', false,
     'Get the display name of the number approved.'),
    (131045, 'Incorrect certificate', 'registration', false,
     'The number is not correctly registered: register it again.'),
    (133000, 'Incomplete deregistration', 'registration', false,
     'Finish deregistering the number before registering it again.'),
    (133005, 'Two step verification PIN Mismatch', 'registration', false,
     'Use the right two-step verification PIN, or reset it.'),
    (133006, 'Phone number Re-verification Needed', 'registration', false,
     'Verify the number again before registering it.'),
    (133008, 'Too Many two step verification PIN Guesses', 'registration', true,
     'Wait for the time given in the error before trying again.'),
    (133009, 'Two step verification PIN Guessed Too Fast', 'registration', true,
     'Wait for the time given in the error before trying again.'),
    (133010, 'Phone number Not Registered', 'registration', false,
     'Register the number with the Cloud API.'),
    (133015, 'Please wait a few minutes before attempting to register this phone number', 'registration', true,
     'Wait a few minutes, then register the number.');

-- Ranges Meta documents as one entry, one row per code.
INSERT INTO wabahook.error_codes (code, title, class, retryable, advice)
SELECT code, 'Template error', 'template', false,
       'A problem with the template or its parameters: check the template in WhatsApp Manager and the parameters sent.'
FROM generate_series(132000, 132069) AS code
ON CONFLICT (code) DO NOTHING;

INSERT INTO wabahook.error_codes (code, title, class, retryable, advice)
SELECT code, 'API Permission', 'authorization', false,
       'A permission is missing or was removed: check the app''s permissions with the access token debugger.'
FROM generate_series(200, 299) AS code
ON CONFLICT (code) DO NOTHING;

-- The class of an error code, `other` when it is not listed (or NULL). Runs with the
-- owner's rights so that failures_daily, whose function runs with the caller's, keeps
-- working for an analyst the reference table has not been granted to yet.
CREATE FUNCTION wabahook.error_class(code integer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT c.class FROM wabahook.error_codes c WHERE c.code = error_class.code), 'other')
$$;
