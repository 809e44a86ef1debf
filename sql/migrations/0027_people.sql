-- People: the identifiers WhatsApp gives one person (phone numbers, business-scoped user
-- ids, their parents), joined by the notifications that name them together.

-- Every distinct set of identifiers seen together for one person (an identity link),
-- per channel and username; "" where a link has no such identifier. A number or id
-- change links the previous identifiers to the current ones.
CREATE TABLE wabahook.identity_link (
    wa_id                   text NOT NULL,
    user_id                 text NOT NULL,
    parent_user_id          text NOT NULL,
    previous_wa_id          text NOT NULL,
    previous_user_id        text NOT NULL,
    previous_parent_user_id text NOT NULL,
    channel                 text NOT NULL,
    username                text NOT NULL,
    first_seen_at           timestamptz,      -- by the times of the items that named it
    last_seen_at            timestamptz,
    profile_name            text,             -- of the latest sighting that carried one
    profile_key             text,
    -- The identifier a link is found by from its person (all of a link's identifiers
    -- belong to one person): its user id, else phone number, else the previous ones.
    anchor_kind             text NOT NULL GENERATED ALWAYS AS (
        CASE WHEN user_id <> '' THEN 'user' WHEN wa_id <> '' THEN 'phone'
             WHEN previous_user_id <> '' THEN 'user' ELSE 'phone' END) STORED,
    anchor                  text NOT NULL GENERATED ALWAYS AS (
        CASE WHEN user_id <> '' THEN user_id WHEN wa_id <> '' THEN wa_id
             WHEN previous_user_id <> '' THEN previous_user_id ELSE previous_wa_id END) STORED,
    -- The person_id its identifiers alone would give a person (the rule of `person`).
    own_id                  text GENERATED ALWAYS AS (
        CASE WHEN user_id <> '' OR previous_user_id <> ''
             THEN least(nullif(user_id, '') COLLATE "C", nullif(previous_user_id, '') COLLATE "C")
             ELSE least(nullif(wa_id, '') COLLATE "C", nullif(previous_wa_id, '') COLLATE "C")
        END) STORED,
    PRIMARY KEY (wa_id, user_id, parent_user_id, previous_wa_id, previous_user_id,
                 previous_parent_user_id, channel, username)
);
CREATE INDEX identity_link_anchor ON wabahook.identity_link (anchor_kind, anchor);

-- Links not yet joined into people: a drain adds the new ones and joins them before it
-- commits (processors/pipeline/people.py); a join that failed leaves them for the next.
CREATE TABLE wabahook.identity_pending (
    wa_id                   text NOT NULL,
    user_id                 text NOT NULL,
    parent_user_id          text NOT NULL,
    previous_wa_id          text NOT NULL,
    previous_user_id        text NOT NULL,
    previous_parent_user_id text NOT NULL,
    raw_event_id            bigint,           -- the first event that brought it, and its
    channel                 text,             -- channel: a person.updated fact names them
    PRIMARY KEY (wa_id, user_id, parent_user_id, previous_wa_id, previous_user_id,
                 previous_parent_user_id)
);

-- Which person each identifier belongs to. `component` is an internal number that
-- depends on the order links arrived in; person_id (on `person`) does not.
CREATE SEQUENCE wabahook.person_component;
CREATE TABLE wabahook.person_identifier (
    kind       text NOT NULL,                 -- phone, user, parent
    identifier text NOT NULL,
    component  bigint NOT NULL,
    PRIMARY KEY (kind, identifier)
);
CREATE INDEX person_identifier_component ON wabahook.person_identifier (component);

CREATE TABLE wabahook.person (
    component      bigint PRIMARY KEY,
    person_id      text NOT NULL,             -- the smallest user id, else phone number
    person_id_kind text NOT NULL,             -- user or phone
    size           integer NOT NULL           -- identifiers: the smaller side is relabelled
);
CREATE INDEX person_person_id ON wabahook.person (person_id);

-- Looking people up: by username, and a person's events by user id.
CREATE INDEX identity_link_username ON wabahook.identity_link (username) WHERE username <> '';
CREATE INDEX inbound_message_user_id ON wabahook.inbound_message (channel, user_id);
CREATE INDEX status_event_recipient_user_id ON wabahook.status_event (channel, recipient_user_id);
CREATE INDEX status_event_participant ON wabahook.status_event (channel, participant)
    WHERE participant <> '';

-- A BSUID-only customer's preference keeps its user id (wa_id then holds the user id).
ALTER TABLE wabahook.marketing_preference_event ADD COLUMN user_id text;
