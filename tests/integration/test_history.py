"""Coexistence history in `stats` and the report: how far each number's sync got."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.corpora.history import DECLINED, LATER_THREAD, MEDIA, OTHER_PN, THREAD, chunk
from tests.integration.processing_helpers import store
from tests.support.bodies import PN, cloud, meta


def test_stats_and_the_report_show_each_numbers_history_sync(
    cli: Callable[..., Result], db: Database, tmp_path: Path
) -> None:
    first = chunk(1, 55, THREAD)
    store(db, [first, first, cloud(DECLINED, "history")])  # the first chunk delivered twice
    drain(db)
    syncs = json.loads(cli("stats", "--days", "1", "--json").stdout)["history_syncs"]
    mine = {s["phone_number_id"]: s for s in syncs}
    assert (mine[PN]["progress"], mine[PN]["completed"], mine[PN]["chunks"]) == (55, False, 1)
    assert (mine[PN]["messages"], mine[PN]["media_pending"]) == (3, 1)
    assert (mine[OTHER_PN]["error_code"], mine[OTHER_PN]["chunks"]) == (2593109, 0)
    text = cli("stats", "--days", "1").stdout
    assert f"history    acme {PN}: 55%, 1 chunks, 3 messages, 1 media pending" in text
    assert f"history    acme {OTHER_PN}: declined by the business (error 2593109)" in text

    store(db, [chunk(2, 100, LATER_THREAD), cloud(meta(MEDIA), "history")])
    drain(db)
    text = cli("stats", "--days", "1").stdout
    assert f"history    acme {PN}: complete, 2 chunks, 4 messages, 0 media pending" in text
    out = tmp_path / "report.html"
    assert cli("report", "--days", "1", "--out", str(out)).exit_code == 0
    page = out.read_text()
    assert "<h2>Coexistence history syncs</h2>" in page
    assert "<h2>From Click-to-WhatsApp ads</h2>" in page
    assert f"<td>{PN}</td><td>100</td><td>True</td><td>2</td><td>4</td><td>0</td>" in page
