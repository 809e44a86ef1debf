-- Business numbers of each channel (processors/pipeline/projections/numbers.py).
-- The public SQL surface. Columns may be added, never renamed or dropped.

CREATE VIEW wabahook.phone_numbers AS
SELECT channel, phone_number_id, nullif(waba_id, '') AS waba_id, display_phone_number,
       first_seen_at, last_seen_at
FROM wabahook.phone_number;
COMMENT ON VIEW wabahook.phone_numbers IS
    'One row per business number (phone number id) and WABA a channel''s notifications named in their metadata: the display number last given, and when the number was first and last seen (by the time its notifications were received).';
