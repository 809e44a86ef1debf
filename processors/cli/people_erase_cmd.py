"""`wabahook people erase`: one person's data rewritten out of everything stored."""

from __future__ import annotations

import sys
from typing import Any

import click

import processors.cli.common as cli
from processors import person_export
from processors.cli.people_cmd import people_group
from processors.cli.secret_files import key_sealer
from processors.erasure import erase as erasure
from processors.stored import retention
from processors.stored.selection import Key

SHOWN_EVENTS = 20


@people_group.command("erase")
@click.option("--wa-id", type=Key(), help="The person's phone number (any they had).")
@click.option("--user-id", type=Key(), help="The person's business-scoped user id.")
@click.option("--person-id", type=Key(), help="The person's id (the current one or an earlier).")
@click.option("--resume", "resume_id", type=click.IntRange(min=1), metavar="ERASURE_ID",
              help="Finish an erasure that stopped (a crash, events still arriving).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Say what would be rewritten; change nothing.")
@click.option("--yes", is_flag=True, help="Erase without asking (for scripts).")
@cli.json_option
def people_erase(
    wa_id: str | None,
    user_id: str | None,
    person_id: str | None,
    resume_id: int | None,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Erase one person's data from every stored body, relay fact and projection.

    Their phone numbers, user ids, usernames and the ids of their messages become
    pseudonyms (erased:<hmac> under a key made for this erasure and destroyed
    when it completes), the same in every row, so counts, statuses, prices, error
    codes and times stay as they were; their texts, names, captions, media ids,
    locations, contact cards and referrals are replaced or removed. Everyone else
    in the same bodies is untouched. The projections are then re-derived from the
    rewritten bodies (a rebuild: intake and workers keep running). The record in
    `erasures` never holds the identifier. Needs WABAHOOK_SECRET_KEY (the key is
    sealed with it until the erasure completes); only the owner login may erase.

    \b
    Examples:
      wabahook people erase --wa-id 16505551234 --dry-run
      wabahook people erase --user-id US.13491208655302741918 --yes
      wabahook people erase --resume 7
    """
    given = {k: v for k, v in (("wa_id", wa_id), ("user_id", user_id),
                               ("person_id", person_id)) if v}  # fmt: skip
    if resume_id is not None:
        if given or dry_run:
            cli.fail("--resume finishes an erasure by its record: give it alone (and --yes)")
        with cli.database() as db, cli.errors_as_messages():
            done = erasure.resume(db, key_sealer(), resume_id, say=_say(as_json))
            unreached = retention.detached_months(db)
        _done({**done, "unreached": unreached}, as_json)
        return
    if len(given) != 1:
        cli.fail("give one of --wa-id, --user-id or --person-id (or --resume ERASURE_ID)")
    ((kind, identifier),) = given.items()
    sealing = None if dry_run else key_sealer()  # before anything is looked up
    with cli.database() as db, cli.errors_as_messages():
        found = erasure.plan(db, kind, identifier)
        unreached = retention.detached_months(db)
        if dry_run:
            rows = person_export.export(db, found.person_id)["rows"]
            counts = {view: len(r) for view, r in rows.items() if r}
            _show_plan(found, counts, unreached, as_json)
            return
        if not yes:
            if not sys.stdin.isatty():
                cli.fail("erasing cannot be undone: give --yes to erase without a question")
            click.confirm(
                f"Erase person {found.person_id} from {len(found.events)} stored events?",
                abort=True, err=True,
            )  # fmt: skip
        assert sealing is not None
        done = erasure.erase(db, sealing, kind, found, say=_say(as_json))
    _done({**done, "unreached": unreached}, as_json)


def _say(as_json: bool) -> erasure.Say:
    return (lambda line: None) if as_json else (lambda line: click.echo(line, err=True))


def _show_plan(
    found: erasure.Plan, rows: dict[str, int], unreached: list[str], as_json: bool
) -> None:
    ids = [event["raw_event_id"] for event in found.events]
    if as_json:
        cli.emit_json({"person_id": found.person_id, "events": ids, "rows": rows,
                       "unreached": unreached})  # fmt: skip
        return
    click.echo(f"person {cli.escaped(found.person_id)}: {len(ids)} stored events would be"
               " looked at and rewritten where they name them")  # fmt: skip
    if ids:
        shown = " ".join(map(str, ids[:SHOWN_EVENTS]))
        click.echo(f"  events: {shown}{' ...' if len(ids) > SHOWN_EVENTS else ''}")
    for view, count in sorted(rows.items()):
        click.echo(f"  {view}: {count} rows would be re-derived")
    click.echo("nothing was changed (--dry-run)")
    _warn(unreached, dry_run=True)


def _done(done: dict[str, Any], as_json: bool) -> None:
    if as_json:
        cli.emit_json(done)
        return
    click.echo(
        f"erasure {done['erasure_id']} complete: {done['events']} stored events and"
        f" {done['deliveries']} relay facts rewritten, in {done['passes']} pass(es)"
    )
    _warn(done["unreached"], dry_run=False)


def _warn(unreached: list[str], dry_run: bool) -> None:
    """Say which detached months of stored bodies an erasure cannot rewrite."""
    if unreached:
        verb = "would not be" if dry_run else "is not" if len(unreached) == 1 else "are not"
        click.echo(f"warning: {', '.join(unreached)} {verb} reached: detached from raw_events,"
                   " a table nothing reads; drop it, or attach it again and erase again",
                   err=True)  # fmt: skip
