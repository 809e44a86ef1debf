"""Commands for people: stats and report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import processors.cli.common as cli
from processors import analytics
from processors.operations import Operations
from receiver.config import shown
from receiver.db import Database

FUNNEL_HEADER = ("DAY", "SENT", "DELIVERED", "READ", "FAILED", "DELIV %", "READ %")
# What the "people and groups" line shows when any of them is not zero.
PEOPLE_COUNTS = ("username_only_messages", "groups_created", "groups_suspended",
                 "group_participant_messages")  # fmt: skip


@cli.main.command("stats")
@cli.period_options(default_days=7)
@cli.json_option
def stats_command(
    channel: str | None, phone_number_id: str | None, days: int, as_json: bool
) -> None:
    """Show the funnel, latency, failures, operations data and intake health.

    \b
    Operations data: templates needing attention (paused, disabled, rejected,
    quality YELLOW/RED), number quality and limit changes, account alerts and
    restrictions, marketing opt-outs, messages by pricing category and type,
    failures by error class.

    \b
    Examples:
      wabahook stats --days 30 --channel acme-de
      wabahook stats --channel acme --phone-number-id 106540352242922
    """
    with cli.database() as db, cli.errors_as_messages():
        _check_scope(db, channel, phone_number_id)
        summary = analytics.summarize(db, days, channel, phone_number_id=phone_number_id)
    if as_json:
        cli.emit_json(summary.as_json())
        return
    totals = summary.totals
    click.echo(f"last {days} day(s), {scope_of(channel, phone_number_id)}")
    click.echo("")
    funnel = [*summary.funnel, {**totals, "day": "total"}]
    cli.echo_table(
        FUNNEL_HEADER,
        ([row["day"], row["sent"], row["delivered"], row["read"], row["failed"],
          _percent(row["delivered_rate"]), _percent(row["read_rate"])] for row in funnel),
        right=FUNNEL_HEADER[1:],
    )  # fmt: skip
    latency = summary.latency
    click.echo("")
    click.echo(
        "latency  sent→delivered p50 "
        f"{_seconds(latency.get('p50_sent_to_delivered_seconds'))}, p90 "
        f"{_seconds(latency.get('p90_sent_to_delivered_seconds'))}   delivered→read p50 "
        f"{_seconds(latency.get('p50_delivered_to_read_seconds'))}, p90 "
        f"{_seconds(latency.get('p90_delivered_to_read_seconds'))}"
    )
    click.echo("")
    click.echo("top failures" if summary.failures else "no failures")
    if summary.failures:
        cli.echo_table(
            ("MESSAGES", "CODE", "TITLE"),
            ([row["messages"], row["error_code"], row["error_title"]] for row in summary.failures),
            right=("MESSAGES",),
            indent="  ",
        )
    _show_operations(summary.operations)
    queue = summary.queue
    oldest = queue["oldest_queued_seconds"]
    click.echo("")
    click.echo(
        f"intake{' of the channel' if phone_number_id else ''}"
        f"   {totals['requests']} deliveries,"
        f" {totals['duplicate_deliveries']} sender retries,"
        f" {totals['rejected']} rejected, {queue['failed']} failed, "
        f"{queue['queued'] - queue['failed']} queued"
        + (f" (oldest {oldest:.0f} s)" if oldest is not None else "")
    )
    people = summary.people_groups
    if any(people.get(key) for key in PEOPLE_COUNTS):
        click.echo("")
        click.echo(
            f"people and groups   {people['username_only_messages']} messages to username-only"
            f" recipients, {people['groups_created']} groups created,"
            f" {people['groups_suspended']} suspended, group messages delivered to"
            f" {people['group_participants_delivered']} of"
            f" {people['group_participant_messages']} participants"
            + (f" ({_percent(people['group_delivered_rate'])})"
               if people["group_delivered_rate"] is not None else "")
        )  # fmt: skip
    if summary.ads:
        click.echo("")
        click.echo(
            f"from ads   {sum(d['conversations'] for d in summary.ads)} conversations started,"
            f" {sum(d['leads'] for d in summary.ads)} leads,"
            f" {sum(d['purchases'] for d in summary.ads)} purchases"
        )
    for sync in summary.history:
        click.echo("")
        click.echo(f"history    {_history_line(sync)}")
    if summary.destinations:
        click.echo("")
        click.echo("relay (all channels)")
        headers = ("DESTINATION", "PENDING", "OLDEST S", "DELIVERED 1H", "DEAD 1H", "P50 MS",
                   "P99 MS")  # fmt: skip
        cli.echo_table(
            headers,
            ([f"{row['destination']}{' (paused)' if row['paused'] else ''}", row["pending"],
              _rounded(row["oldest_pending_seconds"]), row["delivered_last_hour"],
              row["dead_last_hour"], _rounded(row["p50_latency_ms"]),
              _rounded(row["p99_latency_ms"])] for row in summary.destinations),
            right=headers[1:], indent="  ",
        )  # fmt: skip


@cli.main.command("report")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write.",
)
@cli.period_options(default_days=30)
def report_command(out: Path, channel: str | None, phone_number_id: str | None, days: int) -> None:
    """Write one self-contained HTML report with charts (opens without network).

    \b
    Charts: the daily funnel, the delivery and read latency distributions,
    failures by error code, intake volume with sender retries.

    \b
    Examples:
      wabahook report --out report.html --days 30
      wabahook report --phone-number-id 106540352242922 --out number.html
    """
    from processors import report

    if not out.parent.is_dir():  # say so before the queries, not after them
        cli.fail(f"cannot write {shown(out)}: no directory {shown(out.parent)}")
    with cli.database() as db, cli.errors_as_messages():
        _check_scope(db, channel, phone_number_id)
        summary = analytics.summarize(db, days, channel, phone_number_id=phone_number_id)
        latencies = analytics.latency_samples(db, days, channel, phone_number_id)
    try:
        out.write_text(report.render(summary, latencies), encoding="utf-8")
    except OSError as exc:
        cli.fail(f"cannot write {shown(out)}: {exc.strerror or exc}")
    click.echo(f"wrote {out} ({out.stat().st_size / 1_048_576:.1f} MiB)")


def scope_of(channel: str | None, phone_number_id: str | None) -> str:
    """What a summary covers, in words."""
    scope = f"channel {channel}" if channel else "all channels"
    return f"{scope}, phone number id {phone_number_id}" if phone_number_id else scope


def _check_scope(db: Database, channel: str | None, phone_number_id: str | None) -> None:
    """A channel or a number nothing knows of is a typo, not an empty summary."""
    if phone_number_id and not analytics.knows_phone_number(db, phone_number_id, channel):
        where = f" of channel {channel}" if channel else ""
        cli.fail(f"no notification{where} named phone number id {phone_number_id}")
    cli.check_channels(db, [channel] if channel else [])


def _rounded(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _show_operations(ops: Operations) -> None:
    """The sections of `stats` a person acts on (nothing shown for an empty one)."""
    _table_section(
        "failures by class",
        ("MESSAGES", "CLASS"),
        [[row["messages"], row["error_class"]] for row in ops.failure_classes],
    )
    _table_section(
        "templates needing attention",
        ("TEMPLATE", "STATE", "SINCE"),
        [
            [_template(row), _template_state(row), row["status_at"] or row["quality_at"]]
            for row in ops.templates
        ],
    )
    _table_section(
        "phone number changes",
        ("AT", "NUMBER", "CHANGE"),
        [
            [row["event_at"], row["display_phone_number"] or row["waba_id"], _change(row)]
            for row in ops.numbers
        ],
    )
    _table_section("account alerts and restrictions", ("AT", "WABA", "EVENT", "SUMMARY"),
                   [[row["event_at"], row["waba_id"], _account_event(row), row["summary"]]
                    for row in ops.accounts])  # fmt: skip
    opt_outs = ops.opt_outs
    if opt_outs.get("stopped") or opt_outs.get("resumed"):
        click.echo("")
        click.echo(
            f"marketing opt-outs  {opt_outs['stopped']} stopped"
            f" ({opt_outs['stopped_by_error']} seen as error 131050), {opt_outs['resumed']} resumed"
        )
    _table_section(
        "outbound messages by pricing (PMP)",
        ("MESSAGES", "CATEGORY / TYPE"),
        [[row["messages"], f"{row['pricing_category'] or cli.MISSING} / "
          f"{row['pricing_type'] or cli.MISSING}"] for row in ops.pricing_totals],
    )  # fmt: skip


def _table_section(title: str, headers: tuple[str, ...], rows: list[list[Any]]) -> None:
    """A titled table of `stats`, or nothing when it has no rows; counts align right."""
    if not rows:
        return
    click.echo("")
    click.echo(title)
    cli.echo_table(headers, rows, right=tuple(h for h in headers if h == "MESSAGES"), indent="  ")


def _template(row: dict[str, Any]) -> str:
    return f"{row['template_name'] or row['template_id']} ({row['language'] or cli.MISSING})"


def _template_state(row: dict[str, Any]) -> str:
    parts = (row["status"], row["status_reason"], row["quality"] and f"quality {row['quality']}")
    return " ".join(part for part in parts if part and part != "NONE")


def _change(row: dict[str, Any]) -> str:
    """A number's event, with its messaging limit's change when it has one."""
    if not row["current_limit"]:
        return str(row["event"])
    return f"{row['event']} {row['old_limit'] or '?'} → {row['current_limit']}"


def _account_event(row: dict[str, Any]) -> str:
    severity = f" [{row['severity']}]" if row["severity"] else ""
    return f"{row['field']} {row['event'] or ''}".strip() + severity


def _percent(value: Any) -> str | None:
    return None if value is None else f"{float(value):.1%}"


def _seconds(value: Any) -> str:
    return cli.MISSING if value is None else f"{float(value):.1f}s"


def _history_line(sync: dict[str, Any]) -> str:
    """One number's Coexistence history sync, as `stats` shows it."""
    number = cli.cell(f"{sync['channel']} {sync['phone_number_id'] or '-'}")
    if sync["error_code"] is not None and not sync["chunks"]:
        return f"{number}: declined by the business (error {sync['error_code']})"
    state = "complete" if sync["completed"] else f"{sync['progress'] or 0}%"
    return (
        f"{number}: {state}, {sync['chunks']} chunks, {sync['messages']:,} messages,"
        f" {sync['media_pending']:,} media pending"
    )
