"""Fixtures for every test: real servers come from tests/support/servers.py."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

# CI: the same examples on every run, so a red run can be reproduced.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def _no_wabahook_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's WABAHOOK_* settings out of the tests."""
    for name in list(os.environ):
        if name.startswith("WABAHOOK_"):
            monkeypatch.delenv(name)


# Tests that start gunicorn, nginx, Chromium, `up` or servers of their own: `make
# test-fast` leaves them out. Marked here by the fixtures that start them, and by the
# modules that start such processes themselves (each says so with `pytestmark`).
SLOW_FIXTURES = frozenset({"start_gunicorn", "processes", "browser"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark as slow every test that uses a fixture starting processes."""
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI=true a skipped test fails the run: CI proves everything or says what not."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true: {report.longrepr}"
