"""`wabahook people export`: one person's rows and deliveries, nobody else's."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.corpora.people import ANA_CHANGED, ANA_FIRST, ANA_NEW, ANA_OLD, ANA_U1, ANA_U2
from tests.integration.processing_helpers import status_body, store

OTHER = "15550999111"  # someone else, in a body shared with Ana


def shared_statuses() -> bytes:
    """One delivery of two statuses: one to Ana's new number, one to someone else."""
    body = status_body("wamid.EXPA", "delivered", 1750000300, f'"recipient_id":"{ANA_NEW}"')
    return body.replace(
        b"]}",
        b',{"id":"wamid.EXPB","status":"read","timestamp":"1750000301","recipient_id":"'
        + OTHER.encode() + b'"}]}',
        1,
    )  # fmt: skip


def test_export_holds_the_persons_rows_and_only_their_own_deliveries_whole(
    cli: Callable[..., Result], db: Database, tmp_path: Path
) -> None:
    first, changed, shared = store(db, [ANA_FIRST, ANA_CHANGED, shared_statuses()])
    drain(db)
    out = tmp_path / "ana.json"
    result = cli("people", "export", "--wa-id", ANA_OLD, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"person {ANA_U2}" in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    document = json.loads(out.read_text())
    assert document["person_id"] == ANA_U2
    rows = document["rows"]
    assert {r["message_id"] for r in rows["messages_inbound"]} >= {"wamid.ANA1"}
    assert {r["message_id"] for r in rows["status_events"]} == {"wamid.EXPA"}
    assert [r["person_id"] for r in rows["people"]] == [ANA_U2]
    deliveries = {d["raw_event_id"]: d for d in document["deliveries"]}
    assert set(deliveries) == {first, changed, shared}
    assert deliveries[first]["body"]["object"] == "whatsapp_business_account"
    assert deliveries[shared]["shared_with_others"] is True
    assert "body" not in deliveries[shared]
    assert OTHER not in out.read_text()  # nobody else's data
    # The same person by any identifier, an earlier person id included; to stdout.
    for option, value in (("--user-id", ANA_U1), ("--person-id", ANA_U1), ("--wa-id", ANA_NEW)):
        again = cli("people", "export", option, value)
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["person_id"] == ANA_U2


def test_bad_requests_are_one_line_errors(cli: Callable[..., Result], db: Database) -> None:
    for args, said in [
        ((), "give one of --wa-id, --user-id or --person-id"),
        (("--wa-id", ANA_OLD, "--user-id", ANA_U1), "give one of"),
        (("--wa-id", "15550000000"), "no person is known by that wa id"),
        (("--wa-id", ANA_OLD, "--out", "/nonexistent/dir/x.json"), "no directory"),
    ]:
        result = cli("people", "export", *args)
        assert result.exit_code in (1, 2), (args, result.output)
        assert said in result.stderr
        assert result.stderr.count("\n") == 1, result.stderr


def test_a_delivery_that_holds_someone_elses_edit_is_not_exported_whole(
    cli: Callable[..., Result], db: Database
) -> None:
    """Edits name their sender too: a body of her message and someone else's edit is
    theirs as well as hers."""
    body = (
        b'{"messages":[{"from":"' + ANA_OLD.encode() + b'","id":"wamid.EXA1","timestamp":'
        b'"1750000400","type":"text","text":{"body":"hers"}},{"from":"' + OTHER.encode()
        + b'","id":"wamid.EXB2","timestamp":"1750000401","type":"edit","edit":{'
        b'"original_message_id":"wamid.EXB1","message":{"type":"text","text":{"body":'
        b'"his private edit"}}}}]}'
    )  # fmt: skip
    (mixed,) = store(db, [body])
    store(db, [ANA_FIRST])
    drain(db)
    document = json.loads(cli("people", "export", "--wa-id", ANA_OLD).stdout)
    (delivery,) = [d for d in document["deliveries"] if d["raw_event_id"] == mixed]
    assert delivery["shared_with_others"] is True
    assert OTHER not in json.dumps(document)
    assert "his private edit" not in json.dumps(document)
