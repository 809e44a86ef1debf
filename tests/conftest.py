"""Fixtures for every test: real servers come from tests/support/servers.py."""

from __future__ import annotations

import os

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
