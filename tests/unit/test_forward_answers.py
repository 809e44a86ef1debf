"""What forward makes of a destination's Retry-After and of credentials in its URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from processors.relay.http import retry_after
from processors.stored.forward import split_credentials


def answer(retry_after: bytes) -> str:
    """The header's value as the relay reads it off the wire."""
    return retry_after.decode("latin-1")


@pytest.mark.parametrize(
    "value",
    # str.isdigit() takes the first four; on the wire they come as UTF-8 or Latin-1.
    ["²".encode(), "²".encode("latin-1"), "٣".encode(), "\N{FULLWIDTH DIGIT FIVE}".encode(),
     b"1.5", b"-1", b"", b"soon", b"Mon, 99 Foo 2020 00:00:00 GMT",
     b"Thu, 01 Jan 2099 00:00:00 +9999"],
)  # fmt: skip
def test_anything_but_ascii_digits_or_a_date_is_no_hint(value: bytes) -> None:
    assert retry_after(answer(value)) is None


def test_seconds_and_http_dates_are_hints() -> None:
    assert retry_after(answer(b" 7 ")) == 7.0
    assert retry_after(answer(b"Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0  # already past
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    assert 15 <= (retry_after(answer(soon.encode())) or 0) <= 20


@pytest.mark.parametrize(
    ("url", "bare", "credentials"),
    [
        ("https://u:p%40ss@h.example/x?a=b@c", "https://h.example/x?a=b@c", ("u", "p@ss")),
        ("http://a:b@c@h.example:8080/", "http://h.example:8080/", ("a", "b@c")),
        ("https://:t0ken@h.example", "https://h.example", ("", "t0ken")),
        ("https://t0ken@h.example#x@y", "https://h.example#x@y", ("t0ken", "")),
        ("https://@h.example/", "https://h.example/", None),
        ("https://h.example/p@th", "https://h.example/p@th", None),
        ("https://u:p@[::1", "https://[::1", ("u", "p")),  # broken URLs do not raise
        ("not a url", "not a url", None),
    ],
)
def test_split_credentials(url: str, bare: str, credentials: tuple[str, str] | None) -> None:
    assert split_credentials(url) == (bare, credentials)
