-- Replays and forwarding.

-- Which replay queued an event (so `replay --wait` can follow its own events).
ALTER TABLE wabahook.event_queue ADD COLUMN replay text;
CREATE INDEX event_queue_replay ON wabahook.event_queue (replay) WHERE replay IS NOT NULL;

-- What `wabahook forward` delivered where: a second run skips what was acknowledged.
CREATE TABLE wabahook.forward_deliveries (
    destination      text NOT NULL,
    raw_event_id     bigint NOT NULL,
    status           integer,          -- the last HTTP status (NULL: no answer)
    attempts         integer NOT NULL,
    error            text,
    first_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,      -- set once a 2xx came back
    PRIMARY KEY (destination, raw_event_id)
);
