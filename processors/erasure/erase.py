"""`wabahook people erase`: one person's data rewritten out of every stored body, the
relay's facts made from them, and (by a rebuild) every projection.

An erasure runs in passes. Each looks through the stored events for the person's
identifiers (and for rows naming the ids of their messages), rewrites those bodies
without the person (processors.erasure.redact), then re-derives the projections from
the bodies as they now are. An event of the person that arrives during a pass is found
by the next one; after three passes that still found more, the erasure stays open for
`--resume`. Its key and the values it replaces are sealed in the erasure's record while
it runs, so that `--resume` needs no identifier, and destroyed when it completes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from processors.erasure import redact
from processors.person_export import check_owner, find_person, message_ids_of
from processors.pipeline.parse import too_deep
from processors.pipeline.rebuild import rebuild
from processors.pipeline.rebuild_keep import Forget
from receiver.db import Database
from receiver.errors import WabahookError
from receiver.queries import query
from receiver.sealing import Sealer, SealError

BATCH = 100  # events rewritten per transaction
MAX_PASSES = 3
Say = Callable[[str], None]


class ErasureError(WabahookError):
    """An erasure cannot be run or resumed as asked; the message says why."""


@dataclass(slots=True)
class Target:
    """What one erasure replaces: the person's identifiers and their messages' ids."""

    identifiers: frozenset[str]
    message_ids: set[str] = field(default_factory=set)

    @property
    def replaced(self) -> frozenset[str]:
        """Every value replaced wherever it stands."""
        return self.identifiers | self.message_ids

    def needles(self) -> list[bytes]:
        """The identifiers' bytes as a body may hold them: as written, JSON-escaped."""
        forms = {form for value in self.identifiers
                 for form in (value, json.dumps(value)[1:-1])}  # fmt: skip
        return sorted(form.encode("utf-8", "surrogatepass") for form in forms)


@dataclass(frozen=True, slots=True)
class Plan:
    """Who would be erased and which stored events hold them (`--dry-run` shows it)."""

    person_id: str
    target: Target
    events: list[dict[str, Any]]


def plan(db: Database, kind: str, identifier: str) -> Plan:
    """Find the person and the stored events that hold them; nothing is changed."""
    check_owner(db)
    person_id = find_person(db, kind, identifier)
    person = db.fetch_one("person_row", {"person_id": person_id})
    if person is None:  # joined into another person meanwhile
        raise ErasureError("the person changed while being looked up; run it again")
    links = db.fetch_all("person_links_of", {"person_id": person_id})
    identifiers = {*person["wa_ids"], *person["user_ids"]}
    identifiers |= {row["username"] for row in links if row["username"]}
    # Their messages' ids from the rows too: a body retention deleted has left them there.
    target = Target(frozenset(identifiers), message_ids_of(db, person_id))
    found = {row["raw_event_id"]: row for row in _scan(db, target, erasure_id=0)}
    for row in _events_of_person(db, person_id):  # a body that spells them in escapes
        found.setdefault(row["raw_event_id"], row)
    return Plan(person_id, target, [found[i] for i in sorted(found)])


def erase(
    db: Database, sealer: Sealer, kind: str, found: Plan, say: Say = lambda line: None
) -> dict[str, Any]:
    """Erase the person of `found` (a plan of this moment); returns the erasure's record."""
    key = secrets.token_bytes(32)
    pseudonym = redact.pseudonyms(key)
    with db.transaction() as conn:
        erasure_id = conn.execute(
            query("erase_create"),
            {"key_kind": kind, "pseudonym": pseudonym(found.person_id),
             "sealed": _seal(sealer, key, found.target)},
        ).fetchone()["id"]  # type: ignore[index]  # fmt: skip
        _add(conn, erasure_id, found.events)
    say(f"erasure {erasure_id}: {len(found.events)} stored events to look at")
    return _run(db, sealer, erasure_id, key, found.target, say)


def resume(
    db: Database, sealer: Sealer, erasure_id: int, say: Say = lambda line: None
) -> dict[str, Any]:
    """Finish an erasure that stopped, from its record alone."""
    check_owner(db)
    row = db.fetch_one("erase_open", {"erasure_id": erasure_id})
    if row is None:
        raise ErasureError(f"no erasure {erasure_id} waits to be finished")
    try:
        sealed = json.loads(sealer.open(bytes(row["sealed"])))
    except SealError:
        raise ErasureError(
            "WABAHOOK_SECRET_KEY is not the key this erasure was sealed with"
        ) from None
    target = Target(frozenset(sealed["identifiers"]), set(sealed["message_ids"]))
    key = base64.b64decode(sealed["key"])
    return _run(db, sealer, erasure_id, key, target, say)


def _run(
    db: Database, sealer: Sealer, erasure_id: int, key: bytes, target: Target, say: Say
) -> dict[str, Any]:
    pseudonym = redact.pseudonyms(key)
    for _ in range(MAX_PASSES):
        while True:
            # Every id of the person's messages first (a later body may name one an
            # earlier holds), sealed with the rest: a crash loses none of them.
            known = set(target.message_ids)
            _collect(db, erasure_id, target)
            if target.message_ids != known:
                with db.transaction() as conn:
                    conn.execute(query("erase_reseal"), {"erasure_id": erasure_id,
                                 "sealed": _seal(sealer, key, target)})  # fmt: skip
                    conn.execute(query("erase_reopen"), {"erasure_id": erasure_id})
            _rewrite_all(db, erasure_id, target, pseudonym, say)
            # Events naming those ids without naming the person (a conversion detected
            # in their message): found by the rows not yet re-derived.
            named = _named_messages(db, target, erasure_id)
            if not named:
                break
            with db.transaction() as conn:
                _add(conn, erasure_id, named)
        say("re-deriving every projection from the rewritten bodies (a rebuild) ...")
        # Rows kept of bodies retention deleted cannot be rewritten: those naming the
        # person are left out.
        rebuild(db, forget=Forget.of(target.identifiers, target.message_ids))
        # After the rebuild's swap, which waits for every drain under way: a drain that
        # read a body before it was rewritten has queued its facts by now.
        facts = _rewrite_facts(db, erasure_id, target, pseudonym)
        _execute(db, "erase_pass", {"erasure_id": erasure_id, "deliveries": facts})
        # Everything stored is looked through again: an event stored while this pass ran
        # (its id may be lower than ones seen, committed later) is found by the next.
        arrived = _scan(db, target, erasure_id)
        if not arrived:
            db.fetch_one("erase_complete", {"erasure_id": erasure_id})
            done = db.fetch_one("erasure_record", {"erasure_id": erasure_id})
            return dict(done or {"erasure_id": erasure_id})
        with db.transaction() as conn:
            _add(conn, erasure_id, arrived)
        say(f"{len(arrived)} events of the person arrived meanwhile: another pass")
    raise ErasureError(
        f"events of the person keep arriving; finish later with: wabahook people erase"
        f" --resume {erasure_id}"
    )


def _collect(db: Database, erasure_id: int, target: Target) -> None:
    """Add the ids of the person's messages in the erasure's events still to rewrite."""
    after = 0
    while True:
        rows = db.fetch_all("erase_pending", {"erasure_id": erasure_id, "limit": BATCH,
                                              "after": after})  # fmt: skip
        if not rows:
            return
        for row in rows:
            body = bytes(row["body"])
            document = None if too_deep(body) else redact.load(body)
            if document is not None:
                target.message_ids |= redact.message_ids(document, target.identifiers)
        after = rows[-1]["raw_event_id"]


def _rewrite_all(
    db: Database, erasure_id: int, target: Target, pseudonym: redact.Pseudonym, say: Say
) -> None:
    """Rewrite every event of the erasure not yet rewritten, a transaction per batch."""
    _execute(db, "erase_gone", {"erasure_id": erasure_id})
    while True:
        with db.transaction() as conn:
            rows = conn.execute(query("erase_pending"), {"erasure_id": erasure_id,
                                "limit": BATCH, "after": 0}).fetchall()  # fmt: skip
            if not rows:
                return
            bodies = [(row, bytes(row["body"])) for row in rows]
            conn.execute(query("erase_session"), {"erasure_id": erasure_id})
            rewritten = 0
            for row, body in bodies:
                new = _without(body, target, pseudonym)
                digest = hashlib.sha256(new).digest()
                if digest != bytes(row["stored_sha256"]):
                    conn.execute(query("erase_rewrite"), {
                        "body": new, "sha256": digest, "raw_event_id": row["raw_event_id"],
                        "received_at": row["received_at"]})  # fmt: skip
                    rewritten += 1
                conn.execute(query("erase_mark"), {"erasure_id": erasure_id, "sha256": digest,
                                                "raw_event_id": row["raw_event_id"]})  # fmt: skip
        say(f"  rewrote {rewritten} of {len(rows)} stored events")


def _without(body: bytes, target: Target, pseudonym: redact.Pseudonym) -> bytes:
    """`body` without the person: as JSON when it is JSON (and nested as JSON may be),
    else byte for byte."""
    document = None if too_deep(body) else redact.load(body)
    if document is None:
        return redact.scrub_bytes(body, target.replaced, pseudonym)
    new = redact.redact(document, target.replaced, target.identifiers, pseudonym)
    return body if new == document else redact.dump(new)


def _rewrite_facts(
    db: Database, erasure_id: int, target: Target, pseudonym: redact.Pseudonym
) -> int:
    """The relay's facts of the erasure's events, rewritten: sent or still pending (a
    pending one goes out rewritten). Their keys become what a replay of the rewritten
    bodies would give (so it sends nothing twice), which gives them new webhook-ids."""
    count = 0
    with db.transaction() as conn:
        for fact in conn.execute(query("erase_facts"), {"erasure_id": erasure_id}).fetchall():
            payload = redact.redact_fact(
                fact["payload"], target.replaced, target.identifiers, pseudonym
            )
            said = payload != fact["payload"]  # a fact about them: any digest in its key too
            key = redact.redact_key(fact["fact_key"], target.replaced, pseudonym, said)
            if said or key != fact["fact_key"]:
                params = {"id": fact["id"], "payload": Jsonb(payload), "fact_key": key}
                try:
                    with conn.transaction():
                        conn.execute(query("erase_fact_rewrite"), params)
                except psycopg.errors.UniqueViolation:
                    conn.execute(query("erase_fact_drop"), params)
                count += 1
    return count


def _scan(db: Database, target: Target, erasure_id: int) -> list[dict[str, Any]]:
    """The stored events that hold the person's identifiers, or name the ids of their
    messages, that the erasure has not rewritten yet."""
    params = {"needles": target.needles(), "erasure_id": erasure_id}
    found = {row["raw_event_id"]: dict(row) for row in db.fetch_all("erase_scan", params)}
    for row in _named_messages(db, target, erasure_id):
        found.setdefault(row["raw_event_id"], row)
    return [found[i] for i in sorted(found)]


def _named_messages(db: Database, target: Target, erasure_id: int) -> list[dict[str, Any]]:
    """The stored events whose rows name one of the person's message ids (not yet the
    erasure's)."""
    if not target.message_ids:
        return []
    params = {"ids": sorted(target.message_ids), "erasure_id": erasure_id}
    found = db.fetch_all("erase_events_of_messages", params)
    return _event_rows(db, {row["raw_event_id"] for row in found})


def _events_of_person(db: Database, person_id: str) -> list[dict[str, Any]]:
    """The stored events the person's rows of every view naming people came from: those
    too whose bytes spell them in escapes the scan does not read."""
    ids: set[int] = set()
    with db.connection() as conn:
        for view in conn.execute(query("export_views")).fetchall():
            if view["has_raw_event_id"]:
                statement = query("erase_view_events").format(view=sql.Identifier(view["view"]))
                rows = conn.execute(statement, {"person_id": person_id}).fetchall()
                ids |= {row["raw_event_id"] for row in rows}
    return _event_rows(db, ids)


def _event_rows(db: Database, ids: set[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    return [dict(row) for row in db.fetch_all("erase_event_rows", {"ids": sorted(ids)})]


def _add(conn: Any, erasure_id: int, events: Iterable[dict[str, Any]]) -> None:
    rows = list(events)
    conn.execute(query("erase_add_events"), {
        "erasure_id": erasure_id, "ids": [r["raw_event_id"] for r in rows],
        "times": [r["received_at"] for r in rows],
        "digests": [bytes(r["body_sha256"]) for r in rows]})  # fmt: skip


def _seal(sealer: Sealer, key: bytes, target: Target) -> bytes:
    return sealer.seal(json.dumps({
        "key": base64.b64encode(key).decode(), "identifiers": sorted(target.identifiers),
        "message_ids": sorted(target.message_ids)}).encode())  # fmt: skip


def _execute(db: Database, name: str, params: dict[str, Any]) -> None:
    """Run the named statement in a transaction of its own."""
    with db.transaction() as conn:
        conn.execute(query(name), params)
