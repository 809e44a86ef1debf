"""Settings read once from the environment into one typed, frozen object."""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from redis.connection import parse_url as parse_redis_url

from receiver.errors import WabahookError

MIB = 1024 * 1024

# Time limits (seconds) of each kind of database work, in one place. The intake's own
# budget is a setting (WABAHOOK_DB_TIMEOUT): 360dialog gives up on a webhook after 5 s.
WORKER_DB_SECONDS = 60.0  # a worker's pool wait and statements (a job, a scrape)
COMMAND_DB_SECONDS = 30.0  # a CLI command's, the quickstart's and a sweep's
BATCH_SECONDS = 300.0  # one drain batch: claim, project, dequeue, commit
MAINTENANCE_SECONDS = 600.0  # one step of a rebuild, replay or retention
MAX_SECRET_FILE_BYTES = 64 * 1024
QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
Number = TypeVar("Number", int, float)


class ConfigError(WabahookError, ValueError):
    """A configuration value is missing or malformed."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that never shows itself in repr, str, logs or error messages."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """Return the wrapped value; call only where it is actually used."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


# The roles of sql/roles.sql, by the component that logs in with each.
ROLE_COMPONENTS = ("receiver", "processor", "analyst", "console")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything wabahook reads from the environment."""

    database_url: Secret
    redis_url: Secret | None = None
    max_body_bytes: int = MIB  # a channel's limit unless `channels set --max-body` says
    # No channel's limit may pass it. A signed body is read up to it before its signature
    # is checked: so by default it is the default limit, raised only where channels need.
    max_body_ceiling_bytes: int = MIB
    # Reached directly nobody's X-Forwarded-For is trusted; behind our proxy, its one hop.
    behind_proxy: bool = False
    trusted_proxy_hops: int = 0
    queue: str = "wabahook"
    log_format: Literal["json", "text"] = "json"
    # Budget for one intake transaction (pool wait + statement); 360dialog gives up after 5 s.
    db_timeout: float = 1.5
    db_pool_size: int = 4
    redis_timeout: float = 0.25
    credential_ttl: float = 5.0
    # The batch deadline: the longest one event of a drain's batch may take to parse before
    # it is rejected from outside (processors.pipeline.deadline). A body at the size limit
    # parses in well under a second; only a step that hangs comes near.
    batch_deadline: float = 10.0
    # Passwords that make wabahook's roles logins of their own (`migrate` applies them).
    role_passwords: tuple[tuple[str, Secret], ...] = ()
    # 360dialog's API key, for `channels connect` (D360_API_KEY or D360_API_KEY_FILE).
    d360_api_key: Secret | None = None
    # A Graph API access token, for `channels connect --provider meta` (META_ACCESS_TOKEN[_FILE]).
    meta_access_token: Secret | None = None
    # Seals meta channels' app secrets and verify tokens (WABAHOOK_SECRET_KEY[_FILE]):
    # needed by the receiver and by commands that manage meta channels, by no one else.
    secret_key: Secret | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `env` (default: the process environment)."""
        env = os.environ if env is None else env
        database_url = secret_value(env, "DATABASE_URL")
        if not database_url:
            raise ConfigError("DATABASE_URL is not set (e.g. postgresql://user@host:5432/wabahook)")
        try:
            conninfo_to_dict(database_url)
        except psycopg.ProgrammingError:
            # Never echo it: libpq's message quotes the string, password and all.
            raise ConfigError(
                "DATABASE_URL is malformed: use postgresql://USER:PASSWORD@HOST:PORT/DBNAME"
                " (percent-encode special characters) or key=value pairs"
            ) from None
        redis_url = secret_value(env, "REDIS_URL")
        if redis_url:
            _check_redis_url(redis_url)
        log_format = env.get("WABAHOOK_LOG_FORMAT", "json").strip().lower()
        if log_format not in ("json", "text"):
            raise ConfigError(f"WABAHOOK_LOG_FORMAT must be json or text, not {log_format!r}")
        behind_proxy = behind_proxy_from_env(env)
        queue = env.get("WABAHOOK_QUEUE", "wabahook").strip()
        if not QUEUE_NAME.fullmatch(queue):  # it goes into RQ's job ids, which take no '.'
            raise ConfigError(
                f"WABAHOOK_QUEUE must be 1-100 of A-Z a-z 0-9 _ -, not {shown(queue)}"
            )
        max_body = _number(env, "WABAHOOK_MAX_BODY_BYTES", int, MIB, minimum=1)
        ceiling = _number(env, "WABAHOOK_MAX_BODY_CEILING_BYTES", int, max_body, minimum=1)
        if ceiling < max_body:
            raise ConfigError(
                f"WABAHOOK_MAX_BODY_CEILING_BYTES ({ceiling}) is below"
                f" WABAHOOK_MAX_BODY_BYTES ({max_body})"
            )
        return cls(
            database_url=Secret(database_url),
            redis_url=Secret(redis_url) if redis_url else None,
            max_body_bytes=max_body,
            max_body_ceiling_bytes=ceiling,
            behind_proxy=behind_proxy,
            trusted_proxy_hops=_number(
                env, "WABAHOOK_TRUSTED_PROXY_HOPS", int, 1 if behind_proxy else 0, minimum=0
            ),
            queue=queue,
            log_format="json" if log_format == "json" else "text",
            db_timeout=_number(env, "WABAHOOK_DB_TIMEOUT", float, 1.5, minimum=0.1),
            db_pool_size=_number(env, "WABAHOOK_DB_POOL_SIZE", int, 4, minimum=1),
            redis_timeout=_number(env, "WABAHOOK_REDIS_TIMEOUT", float, 0.25, minimum=0.01),
            credential_ttl=_number(env, "WABAHOOK_CREDENTIAL_TTL", float, 5.0, minimum=0.0),
            batch_deadline=_number(env, "WABAHOOK_BATCH_DEADLINE", float, 10.0, minimum=0.1),
            role_passwords=tuple(
                (f"wabahook_{component}", Secret(password))
                for component in ROLE_COMPONENTS
                if (password := secret_value(env, f"WABAHOOK_{component.upper()}_DB_PASSWORD"))
            ),
            d360_api_key=Secret(key) if (key := secret_value(env, "D360_API_KEY")) else None,
            meta_access_token=Secret(token)
            if (token := secret_value(env, "META_ACCESS_TOKEN"))
            else None,
            secret_key=Secret(check_secret_key(key))
            if (key := secret_value(env, SECRET_KEY_VARIABLE))
            else None,
        )


SECRET_KEY_VARIABLE = "WABAHOOK_SECRET_KEY"  # noqa: S105  (a variable's name)
KEY_RECIPE = (
    "python -c 'import base64,secrets;"
    " print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'"
)


def check_secret_key(text: str) -> str:
    """`text` if it is a Fernet key (32 bytes, URL-safe base64: 44 characters), else ConfigError."""
    try:
        raw = base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raw = b""
    if len(text) != 44 or len(raw) != 32:
        # Never echo the value: it is (meant to be) a secret.
        raise ConfigError(
            f"{SECRET_KEY_VARIABLE} must be 32 random bytes in URL-safe base64 (44 characters);"
            f" make one with: {KEY_RECIPE}"
        )
    return text


def secret_value(env: Mapping[str, str], name: str) -> str:
    """`name` from the environment, or the content of the file `name`_FILE names.

    The file form keeps secrets out of the process environment: systemd's
    LoadCredential= and Kubernetes secret volumes hand them over as files.
    """
    path = env.get(f"{name}_FILE", "").strip()
    if not path:
        return env.get(name, "").strip()
    if env.get(name, "").strip():
        raise ConfigError(f"set {name} or {name}_FILE, not both")
    try:
        with open(path, encoding="utf-8") as file:
            # The bound keeps a wrong path (a device, a log) from being read whole.
            value = file.read(MAX_SECRET_FILE_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{name}_FILE: cannot read {path!r}: {reason}") from None
    if len(value) > MAX_SECRET_FILE_BYTES:
        raise ConfigError(f"{name}_FILE: {path!r} is larger than 64 KiB; is it the right file?")
    return value.strip()


def _check_redis_url(url: str) -> None:
    """Refuse a REDIS_URL redis-py cannot use, without echoing it (it may hold a password)."""
    try:
        parse_redis_url(url)  # type: ignore[no-untyped-call]
    except ValueError:
        raise ConfigError(
            "REDIS_URL is malformed: use redis://[:PASSWORD@]HOST:PORT/DB, rediss:// or unix://"
        ) from None


def behind_proxy_from_env(env: Mapping[str, str] | None = None) -> bool:
    """WABAHOOK_BEHIND_PROXY (set by `wabahook serve --behind-proxy`): 1/true/yes or not."""
    env = os.environ if env is None else env
    raw = env.get("WABAHOOK_BEHIND_PROXY", "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ConfigError(f"WABAHOOK_BEHIND_PROXY must be 1 or 0, not {raw!r}")


def shown(value: object, limit: int = 40) -> str:
    """A value for an error message: quoted, control characters escaped, cut to `limit`."""
    text = repr(str(value))
    return text if len(text) <= limit else f"{text[: limit - 4]}...{text[0]}"


def _number(
    env: Mapping[str, str], name: str, kind: type[Number], default: Number, *, minimum: Number
) -> Number:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a {kind.__name__}, not {raw!r}") from None
    if not math.isfinite(value):  # float() takes "nan" and "inf": no setting means either
        raise ConfigError(f"{name} must be a finite number, not {raw!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {raw!r}")
    return value
