-- Merges two sightings of one contact: first and last seen, and the profile name, the
-- ids and the phone number id of the latest sightings that carried them. Commutative,
-- associative and idempotent: every key orders by time and then names its value.
CREATE OR REPLACE FUNCTION wabahook.merge_contact(a wabahook.contact_facts, b wabahook.contact_facts)
RETURNS wabahook.contact_facts
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    m wabahook.contact_facts := a;
BEGIN
    m.first_seen_at := least(a.first_seen_at, b.first_seen_at);
    m.last_seen_at := greatest(a.last_seen_at, b.last_seen_at);
    IF b.profile_key IS NOT NULL AND (a.profile_key IS NULL OR b.profile_key > a.profile_key) THEN
        m.profile_name := b.profile_name;
        m.profile_key := b.profile_key;
    END IF;
    IF b.identity_key IS NOT NULL AND (a.identity_key IS NULL OR b.identity_key > a.identity_key) THEN
        m.user_id := b.user_id;
        m.parent_user_id := b.parent_user_id;
        m.username := b.username;
        m.identity_key := b.identity_key;
    END IF;
    IF b.phone_key IS NOT NULL AND (a.phone_key IS NULL OR b.phone_key > a.phone_key) THEN
        m.phone_number_id := b.phone_number_id;
        m.phone_key := b.phone_key;
    END IF;
    RETURN m;
END
$$;

-- Folds every sighting of a contact into one with merge_contact().
CREATE OR REPLACE AGGREGATE wabahook.merged_contact(wabahook.contact_facts) (
    SFUNC = wabahook.merge_contact,
    STYPE = wabahook.contact_facts
);
