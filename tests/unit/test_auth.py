"""Parsing Basic credentials and checking them against cached digests."""

from __future__ import annotations

import base64
import time

import pytest

from receiver.auth import (
    Authenticator,
    BasicCredentials,
    ChannelAuth,
    digest,
    generate_secret,
    parse_basic,
)


def header(raw: bytes, scheme: str = "Basic") -> list[str]:
    return [f"{scheme} {base64.b64encode(raw).decode()}"]


def test_parses_basic_credentials() -> None:
    assert parse_basic(header(b"acme:pa:ss")) == BasicCredentials(b"acme", b"pa:ss")
    assert parse_basic(header(b"acme:pw", "basic")) == BasicCredentials(b"acme", b"pw")
    assert parse_basic(header(b"acme:pw", "BASIC")) == BasicCredentials(b"acme", b"pw")
    assert parse_basic(header(b":")) == BasicCredentials(b"", b"")


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["Basic"],
        ["Basic "],
        ["Bearer abc"],
        ["Basic !!!"],
        ["Basic YWNtZQ"],  # bad padding
        header(b"no-colon"),
        header(b"a:b") * 2,
    ],
)
def test_anything_malformed_or_ambiguous_is_none(values: list[str]) -> None:
    assert parse_basic(values) is None


def test_credentials_repr_hides_the_password() -> None:
    assert "secret" not in repr(BasicCredentials(b"acme", b"secret"))


def test_generated_secrets_are_long_random_and_shell_safe() -> None:
    secrets_ = {generate_secret() for _ in range(100)}
    assert len(secrets_) == 100
    for secret in secrets_:
        assert len(secret) >= 43  # 256 bits in URL-safe base64
        assert secret.replace("-", "").replace("_", "").isalnum()


class Records:
    def __init__(self, records: dict[str, ChannelAuth]) -> None:
        self.records = records
        self.loads: list[str] = []

    def __call__(self, channel: str) -> ChannelAuth | None:
        self.loads.append(channel)
        return self.records.get(channel)


ACME = ChannelAuth(enabled=True, credentials=(("acme", digest("old")), ("acme", digest("new"))))


def test_accepts_any_valid_credential_of_an_enabled_channel() -> None:
    auth = Authenticator(Records({"acme": ACME}), ttl=60)
    assert auth.check("acme", BasicCredentials(b"acme", b"old"))
    assert auth.check("acme", BasicCredentials(b"acme", b"new"))
    assert not auth.check("acme", BasicCredentials(b"acme", b"other"))
    assert not auth.check("acme", BasicCredentials(b"beta", b"new"))
    assert not auth.check("acme", None)


def test_refuses_disabled_unknown_and_credential_less_channels() -> None:
    records = Records(
        {
            "off": ChannelAuth(enabled=False, credentials=(("off", digest("pw")),)),
            "bare": ChannelAuth(enabled=True, credentials=()),
        }
    )
    auth = Authenticator(records, ttl=60)
    assert not auth.check("off", BasicCredentials(b"off", b"pw"))
    assert not auth.check("ghost", BasicCredentials(b"ghost", b"pw"))
    assert not auth.check("bare", BasicCredentials(b"wabahook", b""))


def test_invalid_channel_names_never_reach_the_database() -> None:
    records = Records({})
    auth = Authenticator(records, ttl=60)
    assert not auth.check("../etc", BasicCredentials(b"x", b"y"))
    assert not auth.check("UPPER", BasicCredentials(b"x", b"y"))
    assert not auth.check("acme\n", BasicCredentials(b"x", b"y"))  # `$` alone would match
    assert records.loads == []


def test_lookups_are_cached_for_the_ttl_including_misses() -> None:
    records = Records({"acme": ACME})
    auth = Authenticator(records, ttl=0.3)
    for _ in range(3):
        auth.check("acme", BasicCredentials(b"acme", b"new"))
        auth.check("ghost", BasicCredentials(b"acme", b"new"))
    assert records.loads == ["acme", "ghost"]
    time.sleep(0.35)  # past the TTL: read again
    auth.check("acme", BasicCredentials(b"acme", b"new"))
    assert records.loads == ["acme", "ghost", "acme"]


def test_zero_ttl_reads_every_time() -> None:
    records = Records({"acme": ACME})
    auth = Authenticator(records, ttl=0)
    auth.check("acme", None)
    auth.check("acme", None)
    assert records.loads == ["acme", "acme"]
