-- Erasing one person (`wabahook people erase`): their data rewritten out of the stored
-- bodies, each rewritten event marked, and a record of each erasure that never holds
-- the person's identifiers once it completes.

ALTER TABLE wabahook.raw_events ADD COLUMN redacted_at timestamptz;

CREATE TABLE wabahook.erasure (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    key_kind     text NOT NULL CHECK (key_kind IN ('wa_id', 'user_id', 'person_id')),
    pseudonym    text NOT NULL,           -- the person's id under the erasure's key
    -- The erasure's key and the values it replaces, sealed with WABAHOOK_SECRET_KEY
    -- while it runs (so that --resume can finish it); NULL once it completes.
    sealed       bytea,
    deliveries   integer NOT NULL DEFAULT 0,   -- relay facts rewritten
    passes       integer NOT NULL DEFAULT 0    -- rounds of rewriting and re-deriving
);

-- Each event an erasure rewrites: the SHA-256 its body had (a later delivery of those
-- bytes is the same notification again) and has now.
CREATE TABLE wabahook.erasure_event (
    erasure_id      bigint NOT NULL REFERENCES wabahook.erasure (id),
    raw_event_id    bigint NOT NULL,
    received_at     timestamptz NOT NULL,
    original_sha256 bytea NOT NULL,
    redacted_sha256 bytea,                 -- NULL until rewritten
    todo            boolean NOT NULL DEFAULT true,  -- to rewrite (again: new ids came to light)
    PRIMARY KEY (erasure_id, raw_event_id)
);
CREATE INDEX erasure_event_original ON wabahook.erasure_event (original_sha256);
