-- A message a customer sent in a group (Groups API) names the group.

ALTER TABLE wabahook.inbound_message ADD COLUMN group_id text;
