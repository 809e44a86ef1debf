"""Settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.config import MIB, ConfigError, Secret, Settings

URL = "postgresql://wabahook:s3cret@db/wabahook"


def test_defaults() -> None:
    settings = Settings.from_env({"DATABASE_URL": URL})
    assert settings.max_body_bytes == MIB
    assert (settings.behind_proxy, settings.trusted_proxy_hops) == (False, 0)  # reached directly
    assert settings.queue == "wabahook"
    assert settings.log_format == "json"
    assert settings.redis_url is None
    assert settings.redis_timeout <= 0.25
    assert settings.db_timeout < 2


@pytest.mark.parametrize(
    ("env", "behind_proxy", "hops"),
    [
        ({"WABAHOOK_BEHIND_PROXY": "1"}, True, 1),
        ({"WABAHOOK_BEHIND_PROXY": "true", "WABAHOOK_TRUSTED_PROXY_HOPS": "2"}, True, 2),
        ({"WABAHOOK_BEHIND_PROXY": "0"}, False, 0),
        ({"WABAHOOK_TRUSTED_PROXY_HOPS": "1"}, False, 1),
    ],
)
def test_behind_a_proxy_one_forwarded_hop_is_trusted_by_default(
    env: dict[str, str], behind_proxy: bool, hops: int
) -> None:
    settings = Settings.from_env({"DATABASE_URL": URL, **env})
    assert (settings.behind_proxy, settings.trusted_proxy_hops) == (behind_proxy, hops)


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": URL,
            "REDIS_URL": "redis://:pw@cache:6379/2",
            "WABAHOOK_MAX_BODY_BYTES": "2048",
            "WABAHOOK_TRUSTED_PROXY_HOPS": "0",
            "WABAHOOK_QUEUE": "tenant-a",
            "WABAHOOK_LOG_FORMAT": "TEXT",
            "WABAHOOK_BATCH_DEADLINE": "2.5",
        }
    )
    assert settings.batch_deadline == 2.5
    assert settings.max_body_bytes == 2048
    assert settings.trusted_proxy_hops == 0
    assert settings.queue == "tenant-a"
    assert settings.log_format == "text"
    assert settings.redis_url is not None
    assert settings.redis_url.reveal() == "redis://:pw@cache:6379/2"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DATABASE_URL is not set"),
        ({"DATABASE_URL": URL, "WABAHOOK_MAX_BODY_BYTES": "lots"}, "must be a int"),
        ({"DATABASE_URL": URL, "WABAHOOK_MAX_BODY_BYTES": "0"}, "at least 1"),
        ({"DATABASE_URL": URL, "WABAHOOK_BEHIND_PROXY": "maybe"}, "must be 1 or 0"),
        ({"DATABASE_URL": URL, "WABAHOOK_TRUSTED_PROXY_HOPS": "-1"}, "at least 0"),
        ({"DATABASE_URL": URL, "WABAHOOK_LOG_FORMAT": "xml"}, "json or text"),
        ({"DATABASE_URL": URL, "WABAHOOK_QUEUE": "a queue!"}, "1-100 of A-Z a-z 0-9 _ -"),
        # RQ refuses '.' in job ids, and the drain's job id holds the queue's name.
        ({"DATABASE_URL": URL, "WABAHOOK_QUEUE": "tenant.a"}, "not 'tenant.a'"),
        ({"DATABASE_URL": URL, "WABAHOOK_QUEUE": "q" * 101}, "not 'qqq"),
        ({"DATABASE_URL": URL, "WABAHOOK_QUEUE": "qu\u0435ue"}, "1-100 of"),  # a Cyrillic e
        ({"DATABASE_URL": URL, "WABAHOOK_BATCH_DEADLINE": "0"}, "at least 0.1"),
        ({"DATABASE_URL": URL, "WABAHOOK_BATCH_DEADLINE": "nan"}, "must be a finite number"),
        ({"DATABASE_URL": URL, "WABAHOOK_DB_TIMEOUT": "inf"}, "must be a finite number"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_secrets_never_show_in_repr_or_str() -> None:
    settings = Settings.from_env({"DATABASE_URL": URL, "REDIS_URL": "redis://:pw@cache/0"})
    for text in (repr(settings), str(settings)):
        assert "s3cret" not in text
        assert ":pw@" not in text
    assert repr(Secret("x")) == "Secret('********')"
    assert f"{Secret('hidden')}" == "Secret('********')"


def test_a_queue_name_of_100_characters_is_taken() -> None:
    name = "Q_-9" * 25
    assert Settings.from_env({"DATABASE_URL": URL, "WABAHOOK_QUEUE": name}).queue == name


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({"DATABASE_URL": URL})
    with pytest.raises(AttributeError):
        settings.queue = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "url", ["postgresql:/wabahook:S3cretPW@db/wabahook", "host=db password=S3cretPW port"]
)
def test_a_malformed_database_url_is_refused_without_being_echoed(url: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL is malformed") as raised:
        Settings.from_env({"DATABASE_URL": url})
    assert "S3cretPW" not in str(raised.value)


@pytest.mark.parametrize(
    "url", ["http://:S3cretPW@cache:6379/0", "redis://:S3cretPW@cache:port/0", "S3cretPW"]
)
def test_a_malformed_redis_url_is_refused_without_being_echoed(url: str) -> None:
    with pytest.raises(ConfigError, match="REDIS_URL is malformed") as raised:
        Settings.from_env({"DATABASE_URL": URL, "REDIS_URL": url})
    assert "S3cretPW" not in str(raised.value)


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    """NAME_FILE (systemd credentials, Kubernetes secret volumes) instead of NAME."""
    (tmp_path / "db").write_text(URL + "\n")
    (tmp_path / "redis").write_text("rediss://:pw@cache:6380/0")
    (tmp_path / "receiver").write_text("receiver-pw\n")
    settings = Settings.from_env(
        {
            "DATABASE_URL_FILE": str(tmp_path / "db"),
            "REDIS_URL_FILE": str(tmp_path / "redis"),
            "WABAHOOK_RECEIVER_DB_PASSWORD_FILE": str(tmp_path / "receiver"),
            "WABAHOOK_PROCESSOR_DB_PASSWORD": "processor-pw",
        }
    )
    assert settings.database_url.reveal() == URL
    assert settings.redis_url is not None
    assert settings.redis_url.reveal().startswith("rediss://")
    assert [(role, pw.reveal()) for role, pw in settings.role_passwords] == [
        ("wabahook_receiver", "receiver-pw"),
        ("wabahook_processor", "processor-pw"),
    ]
    assert "pw" not in repr(settings)


def test_unreadable_or_ambiguous_secret_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "big").write_text("x" * (65 * 1024))
    (tmp_path / "db").write_text(URL)
    cases = {
        "DATABASE_URL_FILE: cannot read": {"DATABASE_URL_FILE": str(tmp_path / "missing")},
        "larger than 64 KiB": {"DATABASE_URL_FILE": str(tmp_path / "big")},
        "not both": {"DATABASE_URL": URL, "DATABASE_URL_FILE": str(tmp_path / "db")},
    }
    for message, env in cases.items():
        with pytest.raises(ConfigError, match=message) as raised:
            Settings.from_env(env)
        assert "s3cret" not in str(raised.value)
