"""Join identity links into people, incrementally, at the end of each batch.

A person is the set of identifiers connected by identity links (connected components
of a graph whose nodes are phone numbers, user ids and parent user ids). Each identifier
belongs to one internal component; a new link that touches several components merges
them by relabelling the smaller ones' identifiers into the largest (union by size), so
an identifier moves O(log n) times over any history and a drain never redoes a whole
person. The public person_id is a property of the set, not of the arrival order: the
smallest user id (as bytes), else the smallest phone number; parents never count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from psycopg import sql
from psycopg.rows import DictRow

from processors.pipeline.batch import Connection
from processors.pipeline.isolation import in_savepoint
from processors.pipeline.projections.identities import LINK_IDS
from receiver.queries import query

log = logging.getLogger("wabahook.people")

# The tables only this step writes (the links themselves are a projection's).
PEOPLE_TABLES = ("person_identifier", "person")
# The kind of each of a pending link's identifier columns (LINK_IDS).
LINK_KINDS = ("phone", "user", "parent", "phone", "user", "parent")
COUNTED = ("user", "phone")  # what a person_id may be, in order of preference
# After a failed join, the links tried one at a time in the same batch (the rest wait).
ONE_BY_ONE = 100

Identifier = tuple[str, str]  # (kind, value)


@dataclass(frozen=True, slots=True)
class Person:
    """A component as stored: its person_id (and that id's kind) and its size."""

    component: int
    person_id: str
    person_id_kind: str
    size: int


def link_people(conn: Connection, schema: str) -> None:
    """Join the pending links of `schema` into people. A failure of any kind holds back
    nothing else of the batch: the links are then joined one at a time (up to
    ONE_BY_ONE), so that one link that cannot be joined waits alone, not every link
    after it; what still fails stays pending for the next batch."""
    if not _attempt(conn, partial(_take_and_join, conn, schema, None)):
        keys = conn.execute(_in(schema, "people_pending_keys"), {"limit": ONE_BY_ONE}).fetchall()
        for key in keys:
            _attempt(conn, partial(_take_and_join, conn, schema, key))


def _attempt(conn: Connection, work: Callable[[], None]) -> bool:
    """Run `work` in a savepoint, as a projection is run (a lost connection ends the
    batch); False (logged) when it failed, the links left pending."""
    failure = in_savepoint(conn, 0, work)
    if failure is not None:
        log.warning("people: links left pending", extra={"error": failure.error})
    return failure is None


def _take_and_join(conn: Connection, schema: str, key: DictRow | None) -> None:
    """Take the pending links (`key`: that one only) under the lock, and join them."""
    if key is None and conn.execute(_in(schema, "people_pending_any")).fetchone() is None:
        return  # every link of the batch was known: the common case takes no lock
    conn.execute(query("people_lock"), {"schema": schema})
    if key is None:
        rows = conn.execute(_in(schema, "people_take_pending")).fetchall()
    else:
        rows = conn.execute(_in(schema, "people_take_one"), dict(key)).fetchall()
    links = [_identifiers([row[column] for column in LINK_IDS]) for row in rows]
    # Which event (and channel) first brought each identifier: a changed person's fact
    # names the earliest of its person's.
    origins: dict[Identifier, tuple[int, str]] = {}
    for link, row in zip(links, rows, strict=True):
        if row["raw_event_id"] is not None:
            for identifier in link:
                origin = (row["raw_event_id"], row["channel"])
                origins[identifier] = min(origins.get(identifier, origin), origin)
    _note_changed(conn, _join(conn, schema, links), origins)


def _identifiers(values: Iterable[str]) -> list[Identifier]:
    return [(kind, value) for kind, value in zip(LINK_KINDS, values, strict=True) if value]


def _note_changed(
    conn: Connection,
    changed: list[tuple[int, list[Identifier]]],
    origins: dict[Identifier, tuple[int, str]],
) -> None:
    """Keep, for this transaction, which persons changed and the event that first did."""
    noted = [
        (component, *min(origins[i] for i in group if i in origins))
        for component, group in changed
        if any(i in origins for i in group)
    ]
    if noted:
        components, raw_event_ids, channels = zip(*noted, strict=True)
        conn.execute(
            query("people_changed"),
            {"components": list(components), "raw_event_ids": list(raw_event_ids),
             "channels": list(channels)},
        )  # fmt: skip


def _join(
    conn: Connection, schema: str, links: Sequence[list[Identifier]]
) -> list[tuple[int, list[Identifier]]]:
    """Merge `links` into the stored components and write what changed; return each
    changed component with the identifiers of the links that changed it."""
    named = {identifier for link in links for identifier in link}
    every = sorted(named | {twin for i in named if (twin := twin_of(i)) is not None})
    known: dict[Identifier, Person] = {}
    for row in conn.execute(
        _in(schema, "people_known"),
        {"kinds": [k for k, _ in every], "identifiers": [v for _, v in every]},
    ).fetchall():
        known[(row["kind"], row["identifier"])] = Person(
            row["component"], row["person_id"], row["person_id_kind"], row["size"]
        )
    by_component = {person.component: person for person in known.values()}
    groups = _groups(links, known)
    fresh = [group for group, components in groups if not components]
    numbers = iter(
        [
            r["component"]
            for r in conn.execute(query("people_new_components"), {"count": len(fresh)})
        ]
        if fresh
        else []
    )
    relabel: list[tuple[int, int]] = []
    added: list[tuple[str, str, int]] = []
    put: list[Person] = []
    changed: list[tuple[int, list[Identifier]]] = []
    for group, components in groups:
        persons = {c: by_component[c] for c in components}
        new = [i for i in group if i not in known]
        if len(persons) <= 1 and not new:
            continue  # a link its person already held: nothing changes
        into = max(persons.values(), key=lambda p: (p.size, -p.component)) if persons else None
        component = into.component if into else next(numbers)
        relabel += [(c, component) for c in persons if c != component]
        added += [(kind, value, component) for kind, value in new]
        person_id, kind = person_id_of(
            [*new, *((p.person_id_kind, p.person_id) for p in persons.values())]
        )
        put.append(
            Person(component, person_id, kind, sum(p.size for p in persons.values()) + len(new))
        )
        changed.append((component, group))
    if relabel:
        sources, targets = zip(*relabel, strict=True)
        conn.execute(
            _in(schema, "people_relabel"), {"sources": list(sources), "targets": list(targets)}
        )
        conn.execute(_in(schema, "people_drop"), {"components": list(sources)})
    if added:
        kinds, values, targets_of_new = zip(*added, strict=True)
        conn.execute(
            _in(schema, "people_add_identifiers"),
            {"kinds": list(kinds), "identifiers": list(values), "components": list(targets_of_new)},
        )
    if put:
        conn.execute(
            _in(schema, "people_put"),
            {
                "components": [p.component for p in put],
                "person_ids": [p.person_id for p in put],
                "kinds": [p.person_id_kind for p in put],
                "sizes": [p.size for p in put],
            },
        )
    return changed


def _groups(
    links: Sequence[list[Identifier]], known: dict[Identifier, Person]
) -> list[tuple[list[Identifier], set[int]]]:
    """The identifiers of `links` grouped into what is now one person each, with the
    stored components each group takes in (union-find). Identifiers of one stored
    component count as linked, and so do a phone number and a user id that are the
    same string (twins): two people never share a person_id, in any arrival order."""
    parent: dict[object, object] = {}

    def find(node: object) -> object:
        root = node
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while node != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    def union(a: object, b: object) -> None:
        parent[find(a)] = find(b)

    named = {identifier for link in links for identifier in link}
    for link in links:
        for identifier in link:
            union(identifier, link[0])
            for node in (identifier, twin_of(identifier)):
                if node is not None and node in known:
                    union(identifier, ("component", known[node].component))
                elif node is not None and node in named:
                    union(identifier, node)
    grouped: dict[object, dict[Identifier, None]] = {}  # ordered sets: linear in the links
    taken: dict[object, set[int]] = {}
    for link in links:
        for identifier in link:
            root = find(identifier)
            grouped.setdefault(root, {})[identifier] = None
            taken.setdefault(root, set())
            for node in (identifier, twin_of(identifier)):
                if node is not None and node in known:
                    taken[root].add(known[node].component)
    return [(list(members), taken[root]) for root, members in grouped.items()]


def twin_of(identifier: Identifier) -> Identifier | None:
    """The same string as the other kind a person_id can be (a phone number written as a
    user id, or the reverse): one person with it, so no two people share an id."""
    kind, value = identifier
    if kind == "phone":
        return ("user", value)
    if kind == "user":
        return ("phone", value)
    return None


def person_id_of(identifiers: Iterable[Identifier]) -> tuple[str, str]:
    """(person_id, its kind): the smallest user id, else the smallest phone number.

    Python orders strings by code point, which is the order of their UTF-8 bytes:
    PostgreSQL's C collation, so the same set gives the same id wherever it is computed.
    """
    candidates = list(identifiers)
    for kind in COUNTED:
        values = [value for k, value in candidates if k == kind]
        if values:
            return min(values), kind
    raise ValueError("a person with neither a user id nor a phone number")


def _in(schema: str, name: str) -> sql.Composed:
    return query(name).format(schema=sql.Identifier(schema))


__all__ = ["PEOPLE_TABLES", "link_people", "person_id_of"]
