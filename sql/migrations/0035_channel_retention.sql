-- A channel's own retention (`channels set NAME --retention 90d`): its stored bodies
-- older than this are deleted, a batch at a time, by the cron's retention job and by
-- `wabahook retention`; the projections, results and deduplication keys stay. NULL: kept
-- until whole months go (`wabahook retention --older-than`).
ALTER TABLE wabahook.channels
    ADD COLUMN retention interval CHECK (retention >= interval '1 day');
