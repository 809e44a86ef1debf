"""Commands for people: stats and report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import processors.cli.common as cli
from processors import analytics
from processors.channels import shown


@cli.main.command("stats")
@cli.period_options(default_days=7)
@cli.json_option
def stats_command(channel: str | None, days: int, as_json: bool) -> None:
    """Show the delivery funnel, latency, top failures and intake health.

    \b
    Example:
      wabahook stats --days 30 --channel acme-de
    """
    with cli.database() as db, cli.errors_as_messages():
        summary = analytics.summarize(db, days, channel)
    if as_json:
        cli.emit_json(summary.as_json())
        return
    totals = summary.totals
    scope = f"channel {channel}" if channel else "all channels"
    click.echo(f"last {days} day(s), {scope}")
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
    queue = summary.queue
    oldest = queue["oldest_queued_seconds"]
    click.echo("")
    click.echo(
        f"intake   {totals['requests']} deliveries,"
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
def report_command(out: Path, channel: str | None, days: int) -> None:
    """Write one self-contained HTML report with charts (opens without network).

    \b
    Charts: the daily funnel, the delivery and read latency distributions,
    failures by error code, intake volume with sender retries.

    \b
    Example:
      wabahook report --out report.html --days 30
    """
    from processors import report

    if not out.parent.is_dir():  # say so before the queries, not after them
        cli.fail(f"cannot write {shown(out)}: no directory {shown(out.parent)}")
    with cli.database() as db, cli.errors_as_messages():
        summary = analytics.summarize(db, days, channel)
        latencies = analytics.latency_samples(db, days, channel)
    try:
        out.write_text(report.render(summary, latencies), encoding="utf-8")
    except OSError as exc:
        cli.fail(f"cannot write {shown(out)}: {exc.strerror or exc}")
    click.echo(f"wrote {out} ({out.stat().st_size / 1_048_576:.1f} MiB)")


def _percent(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1%}"


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}s"
