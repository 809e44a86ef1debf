"""Meta's and 360dialog partners' signatures, handshake tokens, and the key that seals
their secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import pytest

from receiver.auth import Authenticator, ChannelAuth, parse_partner_signature, parse_signature
from receiver.config import ConfigError, Secret, Settings, check_secret_key
from receiver.sealing import Sealer, SealError, key_problem

SECRET = b"6f1d2c3b4a5968778695a4b3c2d1e0f9"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'
MAC = hmac.new(SECRET, BODY, hashlib.sha256)
META = ChannelAuth(enabled=True, kind="meta", signing_secrets=(SECRET,), verify_tokens=(b"tok",))


def key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def test_parses_a_signature_in_either_case() -> None:
    assert parse_signature([f"sha256={MAC.hexdigest()}"]) == MAC.digest()
    assert parse_signature([f"sha256={MAC.hexdigest().upper()}"]) == MAC.digest()
    assert parse_signature([f"  sha256={MAC.hexdigest()} "]) == MAC.digest()


@pytest.mark.parametrize(
    "values",
    [
        [],
        [f"sha256={MAC.hexdigest()}"] * 2,  # two: which one counts?
        [f"SHA256={MAC.hexdigest()}"],
        [f"sha1={MAC.hexdigest()}"],
        [MAC.hexdigest()],
        [f"sha256={MAC.hexdigest()[:-2]}"],
        [f"sha256={MAC.hexdigest()}00"],
        ["sha256=" + "z" * 64],
        [f"sha256= {MAC.hexdigest()}"],
        [f"sha256={MAC.hexdigest()}\n"[:-1] + "\u0660"],
    ],
)
def test_refuses_a_malformed_or_ambiguous_signature(values: list[str]) -> None:
    assert parse_signature(values) is None


def test_a_signature_is_checked_against_every_secret_of_an_enabled_meta_channel() -> None:
    check = Authenticator.check_signature
    assert check(META, MAC.digest(), BODY)
    rotated = ChannelAuth(enabled=True, kind="meta", signing_secrets=(b"new", SECRET))
    assert check(rotated, MAC.digest(), BODY)
    assert not check(META, MAC.digest(), BODY + b" ")
    assert not check(META, None, BODY)
    assert not check(None, MAC.digest(), BODY)  # unknown channel
    assert not check(
        ChannelAuth(enabled=False, kind="meta", signing_secrets=(SECRET,)), MAC.digest(), BODY
    )
    assert not check(ChannelAuth(enabled=True, credentials=()), MAC.digest(), BODY)  # Basic
    assert not check(ChannelAuth(enabled=True, kind="meta"), MAC.digest(), BODY)  # no secret


PARTNER = ChannelAuth(enabled=True, kind="360dialog-partner", signing_secrets=(SECRET,))


def test_parses_a_partner_signature_in_hex_of_either_case_with_or_without_a_prefix() -> None:
    for shown in (MAC.hexdigest(), MAC.hexdigest().upper(), f"sha256={MAC.hexdigest()}"):
        assert parse_partner_signature([shown]) == MAC.digest()
        assert parse_partner_signature([f" {shown}  "]) == MAC.digest()


@pytest.mark.parametrize(
    "values",
    [
        [],
        [MAC.hexdigest()] * 2,
        [f"SHA256={MAC.hexdigest()}"],
        [f"sha1={MAC.hexdigest()}"],
        [MAC.hexdigest()[:-1]],
        [MAC.hexdigest() + "0"],
        [base64.b64encode(MAC.digest()).decode()],  # base64 is no form 360dialog sends
        ["g" * 64],
        [MAC.hexdigest()[:32] + " " + MAC.hexdigest()[32:]],
    ],
)
def test_refuses_a_malformed_or_ambiguous_partner_signature(values: list[str]) -> None:
    assert parse_partner_signature(values) is None


def test_a_partner_signature_is_checked_against_every_platform_secret() -> None:
    check = Authenticator.check_signature
    assert check(PARTNER, MAC.digest(), BODY)
    rotated = ChannelAuth(enabled=True, kind="360dialog-partner", signing_secrets=(b"n", SECRET))
    assert check(rotated, MAC.digest(), BODY)
    assert not check(PARTNER, MAC.digest(), BODY[:-1])
    assert not check(
        ChannelAuth(enabled=False, kind="360dialog-partner", signing_secrets=(SECRET,)),
        MAC.digest(),
        BODY,
    )
    # A partner channel has no handshake, whatever token is presented.
    assert not Authenticator.check_verify_token(PARTNER, SECRET.decode())


def test_the_stand_in_secret_opens_no_channel() -> None:
    """Each check computes as many signatures as a rotation holds, stand-ins filling up;
    a body signed with the stand-in's own secret is refused all the same."""
    from receiver.auth import _DUMMY_SECRET

    forged = hmac.new(_DUMMY_SECRET, BODY, hashlib.sha256).digest()
    for auth in (META, PARTNER, None, ChannelAuth(enabled=True, kind="meta")):
        assert not Authenticator.check_signature(auth, forged, BODY)


def test_a_verify_token_matches_only_an_enabled_meta_channel() -> None:
    check = Authenticator.check_verify_token
    assert check(META, "tok")
    assert not check(META, "to")
    assert not check(META, "tok ")
    assert not check(META, "")
    assert not check(META, "\udcff")  # a lone surrogate from a query string: no crash
    assert not check(None, "tok")
    assert not check(ChannelAuth(enabled=False, kind="meta", verify_tokens=(b"tok",)), "tok")


def test_secrets_never_show_in_a_channels_repr() -> None:
    assert "6f1d" not in repr(META)
    assert "tok" not in repr(META)


def test_a_key_is_32_bytes_of_url_safe_base64() -> None:
    good = key()
    assert check_secret_key(good) == good
    for bad in ("", "short", good[:-1], good + "=", good[:-2] + "!!", "é" * 44,
                base64.urlsafe_b64encode(secrets.token_bytes(33)).decode()[:44]):  # fmt: skip
        with pytest.raises(ConfigError, match="44 characters") as refused:
            check_secret_key(bad)
        assert bad not in str(refused.value) or not bad


def test_settings_read_the_key_from_the_environment_or_a_file(tmp_path) -> None:
    good = key()
    (tmp_path / "key").write_text(good + "\n")
    base = {"DATABASE_URL": "postgresql://localhost/x"}
    assert Settings.from_env(base).secret_key is None
    assert Settings.from_env({**base, "WABAHOOK_SECRET_KEY": good}).secret_key == Secret(good)
    from_file = Settings.from_env({**base, "WABAHOOK_SECRET_KEY_FILE": str(tmp_path / "key")})
    assert from_file.secret_key == Secret(good)
    assert good not in repr(from_file)
    with pytest.raises(ConfigError, match="WABAHOOK_SECRET_KEY"):
        Settings.from_env({**base, "WABAHOOK_SECRET_KEY": "not-a-key"})


def test_sealed_secrets_open_with_their_key_only() -> None:
    sealer = Sealer(Secret(key()))
    sealed = sealer.seal(SECRET)
    assert SECRET not in sealed
    assert sealer.open(sealed) == SECRET
    assert sealer.seal(SECRET) != sealed  # a random IV each time
    other = Sealer(Secret(key()))
    with pytest.raises(SealError):
        other.open(sealed)
    with pytest.raises(SealError):
        sealer.open(sealed[:-1] + (b"A" if sealed[-1:] != b"A" else b"B"))  # altered
    assert repr(sealer) == "Sealer(<key hidden>)"


def test_key_problems_in_one_line() -> None:
    sealer = Sealer(Secret(key()))
    check = sealer.check_token()
    assert key_problem(sealer, check, meta_channels=True) is None
    assert key_problem(None, None, meta_channels=False) is None
    assert key_problem(sealer, None, meta_channels=False) is None
    assert "is not set" in (key_problem(None, check, meta_channels=True) or "")
    assert "not the key" in (key_problem(Sealer(Secret(key())), check, meta_channels=True) or "")
