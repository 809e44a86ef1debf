"""`wabahook report`: one self-contained HTML file with charts (opens offline)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from processors.analytics import Summary

COLORS = {"sent": "#8da0cb", "delivered": "#66c2a5", "read": "#1b9e77", "failed": "#e7298a"}


def render(summary: Summary, latencies: list[dict[str, Any]]) -> str:
    """The report as one HTML document, plotly.js inlined: no network needed to open it."""
    charts = [
        ("Daily funnel", _funnel(summary)),
        ("Delivery and read latency", _latency(latencies)),
        ("Failures by error code", _failures(summary)),
        ("Intake volume and sender retries", _intake(summary)),
        ("Outbound messages by pricing category and type", _pricing(summary)),
        ("Failures by error class", _failure_classes(summary)),
    ]
    totals = summary.totals
    scope = f"channel {summary.channel}" if summary.channel else "all channels"
    if summary.phone_number_id:
        # One delivery may carry several numbers' notifications: intake is the channel's.
        scope += f", phone number id {summary.phone_number_id} (intake figures: whole channel)"
    cards = "".join(
        f'<div class="card"><div class="value">{html.escape(_fmt(totals[key]))}</div>'
        f'<div class="label">{label}</div></div>'
        for key, label in [
            ("sent", "sent"), ("delivered_rate", "delivered rate"), ("read_rate", "read rate"),
            ("failed", "failed"), ("requests", "deliveries received"),
            ("duplicate_deliveries", "sender retries"), ("rejected", "rejected"),
        ]
    ) + "".join(
        f'<div class="card"><div class="value">{html.escape(_fmt(value))}</div>'
        f'<div class="label">{label}</div></div>'
        for value, label in [
            (len(summary.operations.templates), "templates needing attention"),
            (summary.operations.opt_outs.get("stopped", 0), "marketing opt-outs"),
        ]
    )  # fmt: skip
    sections = "".join(
        f"<section><h2>{html.escape(title)}</h2>"
        f"{figure.to_html(full_html=False, include_plotlyjs=False, config={'displaylogo': False})}"
        "</section>"
        for title, figure in charts
    ) + _operations_tables(summary)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>wabahook report: last {summary.days} days, {html.escape(scope)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
h1 {{ font-weight: 600; margin-bottom: .2rem; }} .sub {{ color: #666; margin-top: 0; }}
.cards {{ display: flex; flex-wrap: wrap; gap: .8rem; margin: 1.5rem 0; }}
.card {{ border: 1px solid #ddd; border-radius: 8px; padding: .8rem 1.1rem; min-width: 120px; }}
.value {{ font-size: 1.6rem; font-weight: 600; }} .label {{ color: #666; font-size: .85rem; }}
section {{ margin: 2rem 0; }} h2 {{ font-size: 1.1rem; font-weight: 600; }}
table {{ border-collapse: collapse; width: 100%; font-size: .9rem; }}
th, td {{ text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #eee; }}
th {{ color: #666; font-weight: 600; }} .none {{ color: #666; }}
</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>WhatsApp delivery report</h1>
<p class="sub">Last {summary.days} days (UTC), {html.escape(scope)}.
Generated {generated} by wabahook.</p>
<div class="cards">{cards}</div>
{sections}
</body></html>
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1%}"
    return f"{value:,}"


def _plain_text(value: object) -> str:
    """Stored text for a plotly label: shown as written, never read as markup.

    plotly draws a subset of HTML in labels, ticks and hover texts (<a href>, <b>,
    <br>...): an error title from a sender could otherwise place a link in the
    report. plotly decodes &amp; &lt; &gt; after it has read the tags, but not
    &quot;, hence quote=False; with no < left a quote cannot open an attribute.
    """
    return html.escape(str(value), quote=False)


def _layout(figure: go.Figure, top: int = 20, **kwargs: Any) -> go.Figure:
    figure.update_layout(
        template="plotly_white", height=360, margin={"l": 50, "r": 20, "t": top, "b": 40},
        legend={"orientation": "h", "y": -0.15}, **kwargs,
    )  # fmt: skip
    return figure


def _funnel(summary: Summary) -> go.Figure:
    days = [row["day"].isoformat() for row in summary.funnel]
    figure = go.Figure(
        [
            go.Bar(name=key, x=days, y=[row[key] for row in summary.funnel], marker_color=color)
            for key, color in COLORS.items()
        ]
    )
    return _layout(figure, barmode="group", yaxis_title="messages")


def _latency(latencies: list[dict[str, Any]]) -> go.Figure:
    # Side by side: delivery takes seconds, reading takes minutes or hours.
    figure = make_subplots(rows=1, cols=2, subplot_titles=("sent → delivered", "delivered → read"))
    for column, (key, color) in enumerate(
        [("sent_to_delivered", COLORS["delivered"]), ("delivered_to_read", COLORS["read"])], start=1
    ):
        values = [row[key] for row in latencies if row[key] is not None]
        figure.add_trace(
            go.Histogram(x=values, nbinsx=50, marker_color=color, showlegend=False),
            row=1, col=column,
        )  # fmt: skip
        figure.update_xaxes(title_text="seconds", row=1, col=column)
    figure.update_yaxes(title_text="messages", row=1, col=1)
    return _layout(figure, top=60)  # room for the subplot titles below the toolbar


def _failures(summary: Summary) -> go.Figure:
    rows = list(reversed(summary.failures))
    labels = [
        _plain_text(f"{row['error_code']} {row['error_title'] or ''}".strip()) for row in rows
    ]
    figure = go.Figure(
        [go.Bar(x=[row["messages"] for row in rows], y=labels, orientation="h",
                marker_color=COLORS["failed"], name="failed messages")]
    )  # fmt: skip
    return _layout(figure, xaxis_title="messages", yaxis={"automargin": True})


def _intake(summary: Summary) -> go.Figure:
    hours = [row["hour"].isoformat() for row in summary.intake]
    figure = go.Figure(
        [
            go.Bar(name="deliveries", x=hours, y=[row["requests"] for row in summary.intake],
                   marker_color=COLORS["sent"]),
            go.Bar(name="sender retries", x=hours, marker_color="#fc8d62",
                   y=[row["duplicate_deliveries"] for row in summary.intake]),
            go.Bar(name="rejected", x=hours, y=[row["rejected"] for row in summary.intake],
                   marker_color=COLORS["failed"]),
        ]
    )  # fmt: skip
    return _layout(figure, barmode="overlay", yaxis_title="per hour")


def _pricing(summary: Summary) -> go.Figure:
    rows = summary.operations.pricing
    kinds = sorted({(row["pricing_category"], row["pricing_type"]) for row in rows}, key=str)
    days = sorted({row["day"] for row in rows})
    counts = {(row["day"], row["pricing_category"], row["pricing_type"]): row["messages"]
              for row in rows}  # fmt: skip
    figure = go.Figure(
        [
            go.Bar(
                name=_plain_text(f"{category or '-'} / {kind or '-'}"),
                x=[day.isoformat() for day in days],
                y=[counts.get((day, category, kind), 0) for day in days],
            )
            for category, kind in kinds
        ]
    )
    return _layout(figure, barmode="stack", yaxis_title="messages")


def _failure_classes(summary: Summary) -> go.Figure:
    rows = list(reversed(summary.operations.failure_classes))
    figure = go.Figure(
        [go.Bar(x=[row["messages"] for row in rows],
                y=[_plain_text(row["error_class"]) for row in rows], orientation="h",
                marker_color=COLORS["failed"], name="failed messages by class")]
    )  # fmt: skip
    return _layout(figure, xaxis_title="messages", yaxis={"automargin": True})


# The tables of operations data: (title, columns shown, rows), each cell escaped.
def _operations_tables(summary: Summary) -> str:
    ops = summary.operations
    tables = [
        ("Templates needing attention",
         ["template_name", "language", "status", "status_reason", "quality", "status_at"],
         ops.templates),
        ("Phone number quality and limit changes",
         ["event_at", "display_phone_number", "field", "event", "old_limit", "current_limit"],
         ops.numbers),
        ("Account alerts and restrictions",
         ["event_at", "waba_id", "field", "event", "severity", "summary"], ops.accounts),
        ("Marketing opt-outs", ["stopped", "stopped_by_error", "resumed"],
         [ops.opt_outs] if ops.opt_outs else []),
    ]  # fmt: skip
    return "".join(
        f"<section><h2>{html.escape(title)}</h2>{_table(columns, rows)}</section>"
        for title, columns, rows in tables
    )


def _table(columns: list[str], rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="none">Nothing in this period.</p>'
    head = "".join(f"<th>{html.escape(column.replace('_', ' '))}</th>" for column in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(_cell(row.get(column)))}</td>" for column in columns)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return str(value)
