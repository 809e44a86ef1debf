"""Which bind addresses the receiver may use without a proxy in front."""

from __future__ import annotations

import pytest

from receiver.exposure import ExposureError, check_binds, is_local


@pytest.mark.parametrize(
    "bind",
    ["127.0.0.1:8080", "127.8.9.1:80", "localhost:8080", "[::1]:8080", "unix:/run/w.sock"],
)
def test_loopback_and_unix_sockets_are_local(bind: str) -> None:
    assert is_local(bind)
    check_binds([bind], behind_proxy=False)


@pytest.mark.parametrize(
    "bind", ["0.0.0.0:8080", "[::]:8080", "192.0.2.10:8080", "example.org:80", ":8080", "8080"]
)
def test_anything_else_needs_a_proxy_in_front(bind: str) -> None:
    assert not is_local(bind)
    with pytest.raises(ExposureError, match="without --behind-proxy"):
        check_binds(["127.0.0.1:1", bind], behind_proxy=False)
    check_binds([bind], behind_proxy=True)
