-- Roles of least privilege. Applied by `wabahook migrate --roles` (needs
-- CREATEROLE) and re-applied by every later `migrate` and `rebuild` once the roles
-- exist, because re-created views and tables start without grants.
-- Each role is one component's database login once `migrate --roles` is given its
-- password (WABAHOOK_RECEIVER_DB_PASSWORD, ...), or give it to login users of your own:
--   CREATE USER intake LOGIN PASSWORD '...' IN ROLE wabahook_receiver;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wabahook_receiver') THEN
        CREATE ROLE wabahook_receiver NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wabahook_processor') THEN
        CREATE ROLE wabahook_processor NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wabahook_analyst') THEN
        CREATE ROLE wabahook_analyst NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA wabahook TO wabahook_receiver, wabahook_processor, wabahook_analyst;

-- The receiver: read channel credentials, store deliveries through store_event(). Nothing else.
GRANT SELECT (name, enabled, auth, max_body_bytes) ON wabahook.channels TO wabahook_receiver;
GRANT SELECT (channel, username, secret_sha256, expires_at) ON wabahook.channel_credentials
    TO wabahook_receiver;
-- Meta channels' secrets, sealed: the receiver opens them with WABAHOOK_SECRET_KEY.
GRANT SELECT (channel, kind, sealed, expires_at) ON wabahook.channel_meta_secrets
    TO wabahook_receiver;
GRANT SELECT ON wabahook.secret_key_check TO wabahook_receiver;
GRANT EXECUTE ON FUNCTION wabahook.store_event(text, bytea, bytea, text, jsonb, inet, text)
    TO wabahook_receiver;

-- The processor (workers and cron): the drain, sweep, replay, forward and partition
-- upkeep. Schema changes (migrate, rebuild, retention) stay with the owner: no CREATE
-- on the schema, so it cannot put a table where a partition or a view belongs, and no
-- TRUNCATE. Its staging tables are temporary ones. Partitions are made through
-- ensure_raw_event_partitions(), which runs with the owner's rights.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA wabahook TO wabahook_processor;
REVOKE TRUNCATE ON ALL TABLES IN SCHEMA wabahook FROM wabahook_processor;
-- Which migrations ran is the owner's record: a row planted there would make migrate
-- skip a future migration (a fix, say) without a word.
REVOKE ALL ON wabahook.schema_migrations FROM wabahook_processor;
-- Channels and what proves their deliveries are the operator's (`wabahook channels`, as
-- the owner): a processor able to delete an app secret, or to plant a key check value,
-- could make the receiver refuse every delivery.
REVOKE ALL ON wabahook.channel_credentials, wabahook.channel_meta_secrets,
    wabahook.secret_key_check FROM wabahook_processor;
-- Destinations' signing secrets are the operator's too: the relay reads them, sealed.
REVOKE INSERT, UPDATE, DELETE ON wabahook.destination_secrets FROM wabahook_processor;
REVOKE CREATE ON SCHEMA wabahook FROM wabahook_processor;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA wabahook TO wabahook_processor;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA wabahook TO wabahook_processor;
REVOKE EXECUTE ON FUNCTION wabahook.create_raw_event_partition(date),
    wabahook.store_event(text, bytea, bytea, text, jsonb, inet, text)
    FROM wabahook_processor;

-- The analyst: the public views, read only. Also the tables behind them (the
-- projections' tables are granted by `migrate` from processors/projections), because
-- the analytics views call (inlined) functions that run with the caller's rights; raw
-- bodies, the queue and credentials stay out of reach.
GRANT SELECT ON wabahook.event_results, wabahook.error_codes TO wabahook_analyst;
-- Every view of the schema is public surface (sql/views/): each is granted as it is.
DO $$
DECLARE
    view_name name;
BEGIN
    FOR view_name IN SELECT viewname FROM pg_views WHERE schemaname = 'wabahook' ORDER BY 1 LOOP
        EXECUTE format('GRANT SELECT ON wabahook.%I TO wabahook_analyst', view_name);
    END LOOP;
END
$$;

-- The console (`wabahook console`): the analyst's views, plus the stored events it shows
-- and replay through replay_events() (the owner's function: it cannot write the queue
-- itself). Made here if this login may create roles; an older install without it keeps
-- working, its console running with another login until `migrate --roles` makes it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wabahook_console') THEN
        CREATE ROLE wabahook_console NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'wabahook_console not created: run migrate --roles with a login that may';
END
$$;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'wabahook_console') THEN
        BEGIN
            GRANT wabahook_analyst TO wabahook_console;
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;  -- granted by the migrate --roles that made it; this login may not
        END;
        GRANT USAGE ON SCHEMA wabahook TO wabahook_console;
        GRANT SELECT ON wabahook.raw_events, wabahook.event_queue TO wabahook_console;
        GRANT SELECT (name, enabled, auth, retention) ON wabahook.channels TO wabahook_console;
        -- What retention deletes next (the Retention page): which bodies are still to relay.
        GRANT SELECT (raw_event_id, destination_id, fact_key, state, age_from)
            ON wabahook.relay_deliveries TO wabahook_console;
        GRANT SELECT (id, format, horizon, max_age, channels) ON wabahook.destinations
            TO wabahook_console;
        GRANT EXECUTE ON FUNCTION wabahook.replay_events(
            text[], timestamptz, timestamptz, bigint[], text[], text) TO wabahook_console;
        GRANT EXECUTE ON FUNCTION wabahook.retry_deliveries(text, bigint[], boolean)
            TO wabahook_console;
    END IF;
END
$$;
