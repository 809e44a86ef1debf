"""The 360dialog API key travels encrypted: https, or http to this machine only."""

from __future__ import annotations

import pytest

from processors.channels.dialog360 import Dialog360Error, check_base_url


@pytest.mark.parametrize(
    "url",
    ["https://waba-v2.360dialog.io", "https://10.0.0.1:8443/x", "http://localhost:8080",
     "http://LOCALHOST", "http://127.0.0.1:9", "http://127.8.9.10", "http://[::1]:9000"],
)  # fmt: skip
def test_accepted(url: str) -> None:
    assert check_base_url(url) == url


@pytest.mark.parametrize(
    "url",
    ["http://waba-v2.360dialog.io", "http://10.0.0.1", "http://localhost.evil.example",
     "http://127.0.0.1.nip.io", "http://[::ffff:8.8.8.8]", "http://127.1", "ftp://127.0.0.1",
     "http://", "waba-v2.360dialog.io"],
)  # fmt: skip
def test_refused(url: str) -> None:
    with pytest.raises(Dialog360Error, match=r"^--base-url must be an https:// URL"):
        check_base_url(url)
