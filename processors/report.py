"""`wabahook report`: one self-contained HTML file with charts (opens offline)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from processors import utc
from processors.analytics import Summary
from processors.report_axes import (
    BINS,
    category_axis,
    count_step,
    counts_axis,
    day_labels,
    histogram_bins,
    intake_buckets,
)

COLORS = {"sent": "#8da0cb", "delivered": "#66c2a5", "read": "#1b9e77", "failed": "#e7298a"}
# What a table or a label shows for a value that is not there.
MISSING = "\u2013"
# The axes and buckets are report_axes': still importable from here, as before the split.
__all__ = [
    "COLORS",
    "MISSING",
    "count_step",
    "day_labels",
    "histogram_bins",
    "intake_buckets",
    "render",
]


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
    generated = utc.iso(datetime.now(UTC))
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
        return MISSING
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
    rows = {row["day"]: row for row in summary.funnel}
    days = day_labels(min(rows), max(rows)) if rows else []
    by_label = {day.isoformat(): row for day, row in rows.items()}
    figure = go.Figure(
        [
            go.Bar(name=key, x=days, y=[by_label.get(d, {}).get(key, 0) for d in days],
                   marker_color=color)
            for key, color in COLORS.items()
        ]
    )  # fmt: skip
    largest = max((row[key] for row in summary.funnel for key in COLORS), default=0)
    return _layout(
        figure, barmode="group", xaxis=category_axis(days), yaxis=counts_axis(largest, "messages")
    )


def _latency(latencies: list[dict[str, Any]]) -> go.Figure:
    # Side by side: delivery takes seconds, reading takes minutes or hours.
    figure = make_subplots(rows=1, cols=2, subplot_titles=("sent → delivered", "delivered → read"))
    for column, (key, color) in enumerate(
        [("sent_to_delivered", COLORS["delivered"]), ("delivered_to_read", COLORS["read"])], start=1
    ):
        values = [float(row[key]) for row in latencies if row[key] is not None]
        start, size, counts = histogram_bins(values) if values else (0.0, 1.0, [0])
        figure.add_trace(
            # Bins given, not left to plotly: the tallest is then known for the count axis.
            go.Histogram(x=values, xbins={"start": start, "end": start + size * BINS,
                                          "size": size},
                         marker_color=color, showlegend=False),
            row=1, col=column,
        )  # fmt: skip
        figure.update_xaxes(title_text="seconds", row=1, col=column)
        figure.update_yaxes(
            **counts_axis(max(counts), "messages" if column == 1 else None), row=1, col=column
        )
    return _layout(figure, top=60)  # room for the subplot titles below the toolbar


def _failures(summary: Summary) -> go.Figure:
    rows = list(reversed(summary.failures))
    labels = [
        _plain_text(f"{_code(row['error_code'])} {row['error_title'] or ''}".strip())
        for row in rows
    ]
    counts = [row["messages"] for row in rows]
    figure = go.Figure(
        [go.Bar(x=counts, y=labels, orientation="h", marker_color=COLORS["failed"],
                name="failed messages")]
    )  # fmt: skip
    return _layout(
        figure,
        xaxis=counts_axis(max(counts, default=0), "messages"),
        yaxis={**category_axis(labels), "automargin": True},
    )


def _code(code: int | None) -> str:
    return MISSING if code is None else str(code)


def _intake(summary: Summary) -> go.Figure:
    unit, labels, counts = intake_buckets(summary.intake)
    figure = go.Figure(
        [
            go.Bar(name="deliveries", x=labels, y=[c["requests"] for c in counts],
                   marker_color=COLORS["sent"]),
            go.Bar(name="sender retries", x=labels, marker_color="#fc8d62",
                   y=[c["duplicate_deliveries"] for c in counts]),
            go.Bar(name="rejected", x=labels, y=[c["rejected"] for c in counts],
                   marker_color=COLORS["failed"]),
        ]
    )  # fmt: skip
    largest = max((c["requests"] for c in counts), default=0)
    return _layout(
        figure,
        barmode="overlay",
        xaxis=category_axis(labels),
        yaxis=counts_axis(largest, f"per {unit}"),
    )


def _pricing(summary: Summary) -> go.Figure:
    rows = summary.operations.pricing
    kinds = sorted({(row["pricing_category"], row["pricing_type"]) for row in rows}, key=str)
    days = day_labels(min(r["day"] for r in rows), max(r["day"] for r in rows)) if rows else []
    counts = {(row["day"].isoformat(), row["pricing_category"], row["pricing_type"]):
              row["messages"] for row in rows}  # fmt: skip
    figure = go.Figure(
        [
            go.Bar(
                name=_plain_text(f"{category or MISSING} / {kind or MISSING}"),
                x=days,
                y=[counts.get((day, category, kind), 0) for day in days],
            )
            for category, kind in kinds
        ]
    )
    per_day = [sum(counts.get((day, c, k), 0) for c, k in kinds) for day in days]
    return _layout(
        figure,
        barmode="stack",
        xaxis=category_axis(days),
        yaxis=counts_axis(max(per_day, default=0), "messages"),
    )


def _failure_classes(summary: Summary) -> go.Figure:
    rows = list(reversed(summary.operations.failure_classes))
    labels = [_plain_text(row["error_class"]) for row in rows]
    counts = [row["messages"] for row in rows]
    figure = go.Figure(
        [go.Bar(x=counts, y=labels, orientation="h", marker_color=COLORS["failed"],
                name="failed messages by class")]
    )  # fmt: skip
    return _layout(
        figure,
        xaxis=counts_axis(max(counts, default=0), "messages"),
        yaxis={**category_axis(labels), "automargin": True},
    )


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
        ("From Click-to-WhatsApp ads", ["day", "conversations", "leads", "purchases"],
         summary.ads),
        ("Coexistence history syncs",
         ["channel", "phone_number_id", "progress", "completed", "chunks", "messages",
          "media_pending", "error_code", "last_received_at"], summary.history),
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
    if value is None or value == "":
        return MISSING
    if isinstance(value, datetime):
        return utc.iso(value)
    return str(value)
