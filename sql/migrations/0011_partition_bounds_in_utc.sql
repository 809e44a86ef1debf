-- The partition functions write their bounds as text (format's %L) and read them back
-- in ATTACH PARTITION: both under the caller's TimeZone and DateStyle, which a session
-- or a role may set. Under some settings a bound came back hours off (a zone
-- abbreviation read as another zone's). Fixed settings make the bounds exact.
ALTER FUNCTION wabahook.create_raw_event_partition(date)
    SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres';
ALTER FUNCTION wabahook.ensure_raw_event_partitions(integer)
    SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres';
