"""Commands for people: stats and report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

import processors.cli.common as cli
from processors import analytics
from processors.channels import shown
from processors.operations import Operations
from receiver.db import Database


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
        _check_number(db, phone_number_id, channel)
        summary = analytics.summarize(db, days, channel, phone_number_id=phone_number_id)
    if as_json:
        cli.emit_json(summary.as_json())
        return
    totals = summary.totals
    click.echo(f"last {days} day(s), {scope_of(channel, phone_number_id)}")
    click.echo("")
    click.echo(f"{'DAY':<12}{'SENT':>9}{'DELIVERED':>11}{'READ':>9}{'FAILED':>8}"
               f"{'DELIV %':>9}{'READ %':>8}")  # fmt: skip
    for row in summary.funnel:
        click.echo(
            f"{row['day'].isoformat():<12}{row['sent']:>9}{row['delivered']:>11}{row['read']:>9}"
            f"{row['failed']:>8}{_percent(row['delivered_rate']):>9}{_percent(row['read_rate']):>8}"
        )
    click.echo(
        f"{'total':<12}{totals['sent']:>9}{totals['delivered']:>11}{totals['read']:>9}"
        f"{totals['failed']:>8}{_percent(totals['delivered_rate']):>9}"
        f"{_percent(totals['read_rate']):>8}"
    )
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
    for row in summary.failures:
        click.echo(
            f"  {row['messages']:>8}  {row['error_code']}  {cli.escaped(row['error_title'] or '')}"
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
        _check_number(db, phone_number_id, channel)
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


def _check_number(db: Database, phone_number_id: str | None, channel: str | None) -> None:
    """A number no notification named is a typo, not an empty summary."""
    if phone_number_id and not analytics.knows_phone_number(db, phone_number_id, channel):
        where = f" of channel {channel}" if channel else ""
        cli.fail(f"no notification{where} named phone number id {phone_number_id}")


def _show_operations(ops: Operations) -> None:
    """The sections of `stats` a person acts on (nothing shown for an empty one)."""
    esc = cli.escaped
    if ops.failure_classes:
        click.echo("")
        click.echo("failures by class")
        for row in ops.failure_classes:
            click.echo(f"  {row['messages']:>8}  {esc(row['error_class'])}")
    if ops.templates:
        click.echo("")
        click.echo("templates needing attention")
        for row in ops.templates:
            state = " ".join(
                esc(part)
                for part in (
                    row["status"],
                    row["status_reason"],
                    row["quality"] and f"quality {row['quality']}",
                )
                if part and part != "NONE"
            )
            name = esc(row["template_name"] or row["template_id"])
            language = esc(row["language"] or "-")
            when = _when(row["status_at"] or row["quality_at"])
            click.echo(f"  {name} ({language})  {state}  {when}")
    if ops.numbers:
        click.echo("")
        click.echo("phone number changes")
        for row in ops.numbers:
            limits = (
                f" {esc(row['old_limit'] or '?')} → {esc(row['current_limit'])}"
                if row["current_limit"]
                else ""
            )
            click.echo(
                f"  {_when(row['event_at'])}  {esc(row['display_phone_number'] or row['waba_id'])}"
                f"  {esc(row['event'])}{limits}"
            )
    if ops.accounts:
        click.echo("")
        click.echo("account alerts and restrictions")
        for row in ops.accounts:
            severity = f" [{esc(row['severity'])}]" if row["severity"] else ""
            summary = f"  {esc(row['summary'])}" if row["summary"] else ""
            click.echo(
                f"  {_when(row['event_at'])}  {esc(row['waba_id'])}  {esc(row['field'])}"
                f" {esc(row['event'] or '')}{severity}{summary}"
            )
    opt_outs = ops.opt_outs
    if opt_outs.get("stopped") or opt_outs.get("resumed"):
        click.echo("")
        click.echo(
            f"marketing opt-outs  {opt_outs['stopped']} stopped"
            f" ({opt_outs['stopped_by_error']} seen as error 131050), {opt_outs['resumed']} resumed"
        )
    if ops.pricing:
        click.echo("")
        click.echo("outbound messages by pricing (PMP)")
        for row in ops.pricing_totals:
            click.echo(
                f"  {row['messages']:>8}  {esc(row['pricing_category'] or '-')}"
                f" / {esc(row['pricing_type'] or '-')}"
            )


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _percent(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1%}"


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}s"
