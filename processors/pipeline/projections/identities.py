"""Identity links: the identifiers a notification names together for one person.

Every `contacts[]` item of any change, a message's sender, a status's recipient (or a
group status's participant), a preference's user, a group participant, an echo's
recipient, a `user_id_update` item and the system messages `user_changed_number` /
`user_changed_user_id` link a person's phone number, business-scoped user id (and its
parent) and username; so do Coexistence history threads and their customers' messages,
and the contacts of the Business app's address book (`smb_app_state_sync`). The links
are kept in `identity_link`, feed `contacts` (the contacts[] items, message senders and
address book contacts) and are joined into people by processors.pipeline.people. A
phone number or user id that is omitted or "" is unknown, never a value; parents never
stand for a person alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from processors.pipeline.model import Change, Projection
from processors.pipeline.reading import Reading, dig, indexed, label_of, time_of
from processors.pipeline.values import Notes, TimeWindow, string

# Per identifier (a username too): six of them, a channel and a username fit one row of
# the links' key (PostgreSQL's b-tree takes at most 2,704 bytes).
MAX_IDENTIFIER_BYTES = 256
# No WhatsApp identifier holds a space or a character that is not printable (control,
# format, invisible, private use, unassigned): the rule `wabahook people show` and the
# console take ids by, so every stored identifier can be looked up.
_SPACE = re.compile(r"\s")
# A status's parent user id has had three names; a group status names its participant
# under two.
PARENT_KEYS = ("recipient_parent_user_id", "parent_recipient_user_id", "parent_user_id")
PARTICIPANT_KEYS = ("recipient_participant_id", "participant_recipient_id")
CHANGE_MESSAGES = frozenset({"user_changed_number", "user_changed_user_id"})
PARTICIPANT_LISTS = ("added_participants", "removed_participants")
FIELDS = frozenset(
    {
        "messages", "user_preferences", "calls", "smb_message_echoes", "user_id_update",
        "group_participants_update", "history", "smb_app_state_sync",
    }
)  # fmt: skip


@dataclass(slots=True)  # set in place while its change is read (replace() is costly here)
class Link:
    """Identifiers seen together for one person, and when."""

    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    previous_wa_id: str | None = None  # a number or id change: what they had before
    previous_user_id: str | None = None
    previous_parent_user_id: str | None = None
    username: str | None = None
    name: str | None = None  # the profile name
    seen_at: int | None = None
    contact: bool = False  # a contacts[] item or a message's sender: it feeds `contacts`
    ref: str = ""  # what named them (a message id...): breaks ties between sightings
    phone_number_id: str | None = None

    def names_someone(self) -> bool:
        """Whether it names a person: a parent id alone does not."""
        return any((self.wa_id, self.user_id, self.previous_wa_id, self.previous_user_id))


class _Discarded(Notes):
    """Notes nobody reads: adding to them does nothing."""

    def add(self, key: str, count: int = 1) -> None:
        """Forget `key`."""


_DISCARDED = _Discarded()


@dataclass(slots=True)
class _Quiet:
    """A reading whose notes on an item's values are thrown away (each item's own
    projection notes those); what only identity links refuse is `said` on the event."""

    window: TimeWindow
    said: Notes
    notes: Notes = field(default_factory=lambda: _DISCARDED)


def read_links(event: Reading, change: Change) -> Iterator[Link]:
    """The identity links of one change: its items' first, then its contacts[] items.

    Items and contacts are matched through dicts by identifier, never pairwise: a body of
    thousands of both is read in time linear in its size.
    """
    quiet = _Quiet(event.window, event.notes)
    sightings = [link for link in _item_links(quiet, change) if link.names_someone()]
    contacts = [c for c in _contacts(quiet, change) if c.names_someone()]
    listed = {i: c for c in contacts for i in _keys(c)}
    latest: dict[tuple[str, str], Link] = {}  # the latest timed item naming each identifier
    for link in sightings:
        described = next((listed[i] for i in _keys(link) if i in listed), None)
        if link.contact and described is not None:
            link.contact = False  # its contacts[] item describes it (name, username...)
            # The item may leave out the number its message gives (`from`): the contact
            # is still keyed by the number, as the sender is.
            described.wa_id = described.wa_id or link.wa_id
        if link.seen_at is not None:
            for i in _keys(link):
                if i not in latest or _later(link, latest[i]):
                    latest[i] = link
        yield link
    timed = [s for s in sightings if s.seen_at is not None]
    last = max(timed, key=_order) if timed else None
    for contact in contacts:
        named = [latest[i] for i in _keys(contact) if i in latest]
        placed = max(named, key=_order) if named else last
        # A contact carries no time: the latest item naming the same person gives it
        # (else the change's latest item, else entry.time).
        if placed is None:
            contact.seen_at = change.entry_time
        else:
            contact.seen_at, contact.ref = placed.seen_at, placed.ref
        yield contact


def _keys(link: Link) -> list[tuple[str, str]]:
    return [
        (kind, value) for kind, value in (("phone", link.wa_id), ("user", link.user_id)) if value
    ]


def _order(link: Link) -> tuple[int, str]:
    return (link.seen_at or 0, link.ref)


def _later(a: Link, b: Link) -> bool:
    return _order(a) > _order(b)


def _item_links(event: _Quiet, change: Change) -> Iterator[Link]:
    value, pn = change.value, change.phone_number_id
    for _, message in indexed(event, value, "messages"):
        yield _sender_or_change(event, message, pn)
    for _, status in indexed(event, value, "statuses"):
        yield _recipient(event, status, pn)
    for _, item in indexed(event, value, "user_preferences"):
        yield Link(wa_id=_id(event, item, "wa_id"), user_id=_id(event, item, "user_id"),
                   parent_user_id=_id(event, item, "parent_user_id"),
                   seen_at=time_of(event, item.get("timestamp"), "preference"),
                   phone_number_id=pn)  # fmt: skip
    for _, echo in indexed(event, value, "message_echoes"):
        yield Link(wa_id=_id(event, echo, "to"), user_id=_id(event, echo, "to_user_id"),
                   parent_user_id=_id(event, echo, "to_parent_user_id"),
                   seen_at=time_of(event, echo.get("timestamp"), "echo"),
                   ref=label_of(event, echo, "id") or "", phone_number_id=pn)  # fmt: skip
    for _, item in indexed(event, value, "user_id_update"):
        users, parents = _changed(event, item, "user_id"), _changed(event, item, "parent_user_id")
        yield Link(
            wa_id=_id(event, item, "wa_id"),
            user_id=users[1], previous_user_id=users[0],
            parent_user_id=parents[1], previous_parent_user_id=parents[0],
            seen_at=time_of(event, item.get("timestamp"), "user_id_update"),
            phone_number_id=pn,
        )  # fmt: skip
    for _, group in indexed(event, value, "groups"):
        yield from _participants(event, group, time_of(event, group.get("timestamp"), "group"))
    business = dig(value, "metadata", "display_phone_number")
    for _, item in indexed(event, value, "history"):
        for _, thread in indexed(event, item, "threads"):
            yield from _thread(event, thread, pn, business)
    for _, item in indexed(event, value, "state_sync"):
        contact = item.get("contact")
        if item.get("type") == "contact" and isinstance(contact, dict):
            yield Link(
                wa_id=_id(event, contact, "phone_number"), user_id=_id(event, contact, "user_id"),
                parent_user_id=_id(event, contact, "parent_user_id"),
                username=_id(event, contact, "username"),
                name=string(contact.get("full_name")) or string(contact.get("first_name")),
                seen_at=time_of(event, dig(item, "metadata", "timestamp"), "state_sync"),
                contact=True, phone_number_id=pn,
            )  # fmt: skip


def _thread(event: _Quiet, thread: dict[str, Any], pn: str | None, business: Any) -> Iterator[Link]:
    """A history thread's customer (its context, else its id) and its messages' senders
    (not the business's own messages: those have a `to`, or come from its number)."""
    context = thread.get("context") if isinstance(thread.get("context"), dict) else {}
    yield Link(wa_id=_id(event, context, "wa_id") or _id(event, thread, "id"),
               user_id=_id(event, context, "user_id"),
               parent_user_id=_id(event, context, "parent_user_id"),
               username=_id(event, context, "username"), phone_number_id=pn)  # fmt: skip
    for _, message in indexed(event, thread, "messages"):
        mine = "to" in message or "to_user_id" in message or message.get("from") == business
        if not mine:
            link = _sender_or_change(event, message, pn)
            link.contact = False  # a thread's past messages: no `contacts` row of their own
            yield link


def _changed(event: _Quiet, item: dict[str, Any], key: str) -> tuple[str | None, str | None]:
    """(previous, current) of a user_id_update's `{previous, current}` object; a plain
    string there is read as the current one."""
    value = item.get(key)
    if isinstance(value, dict):
        return _id(event, value, "previous"), _id(event, value, "current")
    return None, _identifier(event, value, key)


def _sender_or_change(event: _Quiet, message: dict[str, Any], pn: str | None) -> Link:
    """A message's sender; for a number or id change, the old identifiers and the new."""
    sent_at = time_of(event, message.get("timestamp"), "message")
    ref = label_of(event, message, "id") or ""
    phone, user = _id(event, message, "from"), _id(event, message, "from_user_id")
    parent = _id(event, message, "from_parent_user_id")
    system = message.get("system")
    kind = dig(system, "type")
    if message.get("type") == "system" and isinstance(kind, str) and kind in CHANGE_MESSAGES:
        new_phone, new_user = _id(event, system, "wa_id"), _id(event, system, "user_id")
        return Link(
            wa_id=new_phone or phone,
            previous_wa_id=phone if new_phone and phone != new_phone else None,
            user_id=new_user or user,
            previous_user_id=_id(event, system, "previous_user_id")
            or (user if new_user and user != new_user else None),
            parent_user_id=_id(event, system, "parent_user_id") or parent,
            previous_parent_user_id=_id(event, system, "previous_parent_user_id"),
            seen_at=sent_at,
            ref=ref,
            phone_number_id=pn,
        )
    return Link(wa_id=phone, user_id=user, parent_user_id=parent, seen_at=sent_at,
                contact=True, ref=ref, phone_number_id=pn)  # fmt: skip


def _recipient(event: _Quiet, status: dict[str, Any], pn: str | None) -> Link:
    """A status's recipient; for a group message's status, its participant."""
    at = time_of(event, status.get("timestamp"), "status")
    ref = f"{label_of(event, status, 'id') or ''}:{label_of(event, status, 'status') or ''}"
    if status.get("recipient_type") == "group":
        return Link(wa_id=_first(event, status, PARTICIPANT_KEYS),
                    user_id=_id(event, status, "recipient_participant_user_id"),
                    parent_user_id=_id(event, status, "recipient_participant_parent_user_id"),
                    seen_at=at, ref=ref, phone_number_id=pn)  # fmt: skip
    return Link(
        wa_id=_id(event, status, "recipient_id")
        or _id(event, status.get("message"), "recipient_id"),
        user_id=_id(event, status, "recipient_user_id"),
        parent_user_id=_first(event, status, PARENT_KEYS),
        seen_at=at, ref=ref, phone_number_id=pn,
    )  # fmt: skip


def _participants(event: _Quiet, group: dict[str, Any], at: int | None) -> Iterator[Link]:
    """The people a group_participants_update item names (failed ones too: they exist)."""
    people: list[Any] = [group]  # a join request names its person on the item itself
    for key in (*PARTICIPANT_LISTS, "failed_participants"):
        if isinstance(listed := group.get(key), list):
            people.extend(listed)
    for person in people:
        if isinstance(person, dict):
            link = Link(wa_id=_id(event, person, "wa_id"), user_id=_id(event, person, "user_id"),
                        parent_user_id=_id(event, person, "parent_user_id"),
                        username=_id(event, person, "username"), seen_at=at)  # fmt: skip
            if link.names_someone():
                yield link


def _contacts(event: _Quiet, change: Change) -> Iterator[Link]:
    """The change's contacts[] items."""
    for _, contact in indexed(event, change.value, "contacts"):
        yield Link(
            wa_id=_id(event, contact, "wa_id"),
            user_id=_id(event, contact, "user_id"),
            parent_user_id=_id(event, contact, "parent_user_id"),
            username=_identifier(event, dig(contact, "profile", "username"), "username"),
            name=string(dig(contact, "profile", "name")),
            contact=True,
            phone_number_id=change.phone_number_id,
        )


def _id(event: _Quiet, parent: Any, key: str) -> str | None:
    """`parent[key]` as an identifier (see _identifier)."""
    return _identifier(event, parent.get(key) if isinstance(parent, dict) else None, key)


def _identifier(event: _Quiet, value: Any, key: str) -> str | None:
    """An identifier: omitted, "" or blank is unknown; one that is no string or number,
    holds a space or a character that is not printable, or is too long for the links' key,
    is noted and dropped (it must never join people, nor become someone's person id)."""
    if value is None:
        return None
    text = string(value)
    if text is None:
        event.said.add(f"not_an_identifier:{key}")
        return None
    if not text.strip():
        return None
    unfit = not text.isprintable() or _SPACE.search(text) is not None
    if unfit or len(text.encode("utf-8", "surrogatepass")) > MAX_IDENTIFIER_BYTES:
        event.said.add(f"unfit_identifier:{key}")
        return None
    return text


def _first(event: _Quiet, parent: Any, keys: tuple[str, ...]) -> str | None:
    return next((found for key in keys if (found := _id(event, parent, key))), None)


def _row(k: Any) -> tuple[Any, ...]:
    # In the order of `columns`.
    return (k.wa_id, k.user_id, k.parent_user_id, k.previous_wa_id, k.previous_user_id,
            k.previous_parent_user_id, k.username, k.name, k.seen_at, k.contact, k.ref,
            k.phone_number_id)  # fmt: skip


# A link's identifiers, current then previous: what a pending link is keyed by.
LINK_IDS = ("wa_id", "user_id", "parent_user_id", "previous_wa_id", "previous_user_id",
            "previous_parent_user_id")  # fmt: skip

PROJECTION = Projection(
    name="identities",
    fields=FIELDS,
    read=read_links,
    stage_table="stage_identity_link",
    columns=(*LINK_IDS, "username", "name", "seen_at", "contact", "ref", "phone_number_id"),
    row=_row,
    queries=("project_identity_links", "project_identity_pending", "project_contacts"),
    tables={
        "identity_link": (*LINK_IDS, "channel", "username"),
        "identity_pending": LINK_IDS,
        "contact": ("channel", "wa_id"),
    },
)
