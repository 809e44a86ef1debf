"""`wabahook people export`: a data subject access request, as one JSON document."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

import processors.cli.common as cli
from processors import person_export
from processors.cli.people_cmd import people_group
from processors.stored.selection import Key
from receiver.config import shown


@people_group.command("export")
@click.option("--wa-id", type=Key(), help="The person's phone number (any they had).")
@click.option("--user-id", type=Key(), help="The person's business-scoped user id.")
@click.option("--person-id", type=Key(), help="The person's id (the current one or an earlier).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The file to write (readable by its owner only) [default: standard output].",
)
def people_export(
    wa_id: str | None, user_id: str | None, person_id: str | None, out: Path | None
) -> None:
    """Write everything stored about one person as one JSON document.

    The person is found through `people`, so every identifier they ever had is
    covered. The document holds their row of every view that names people
    (messages, statuses, contacts, preferences, echoes, calls, groups, history,
    ads...), and each delivery those rows came from: the whole body when it is
    about this person alone, else only its id and digest (the rest of it is other
    people's; the person's items are in the rows). Only the owner login (the one
    that runs `migrate`) may export.

    \b
    Examples:
      wabahook people export --wa-id 16505551234 --out person.json
      wabahook people export --user-id US.13491208655302741918
    """
    given = {k: v for k, v in (("wa_id", wa_id), ("user_id", user_id),
                               ("person_id", person_id)) if v}  # fmt: skip
    if len(given) != 1:
        cli.fail("give one of --wa-id, --user-id or --person-id")
    ((kind, identifier),) = given.items()
    if out is not None and not out.parent.is_dir():
        cli.fail(f"cannot write {shown(out)}: no directory {shown(out.parent)}")
    with cli.database() as db, cli.errors_as_messages():
        found = person_export.find_person(db, kind, identifier)
        document = person_export.export(db, found)
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1)
    if out is None:
        click.echo(text)
        return
    try:
        # Personal data: created for its owner alone, never left readable by others.
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a file that was there keeps its mode otherwise
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    except OSError as exc:
        cli.fail(f"cannot write {shown(out)}: {exc.strerror or exc}")
    rows = sum(len(r) for r in document["rows"].values())
    click.echo(
        f"wrote {out}: person {found}, {rows} rows, {len(document['deliveries'])} deliveries"
    )
