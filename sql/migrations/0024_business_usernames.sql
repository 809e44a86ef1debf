-- The business username webhook (business_username_updates, and its earlier names)
-- lands in phone_number_events, with the username it is about.

ALTER TABLE wabahook.phone_number_event ADD COLUMN username text;
