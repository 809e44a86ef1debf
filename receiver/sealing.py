"""Secrets kept sealed at rest (Fernet, under WABAHOOK_SECRET_KEY): meta channels' app secrets."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from receiver.config import SECRET_KEY_VARIABLE, Secret, Settings, check_secret_key
from receiver.db import Database, DatabaseError
from receiver.errors import WabahookError

# Sealed once with the key in use and kept in the database: a different key cannot open
# it, so a wrong key is told at start instead of as a 401 to every signed delivery.
CHECK_VALUE = b"wabahook secret key check v1"


class SealError(WabahookError):
    """A sealed value could not be opened: another key sealed it, or it was altered."""


class Sealer:
    """Seals and opens short secrets with one Fernet key."""

    __slots__ = ("_fernet",)

    @classmethod
    def of(cls, key: Secret | None) -> Sealer | None:
        """A sealer of `key`, or None when no key is configured."""
        return cls(key) if key is not None else None

    def __init__(self, key: Secret) -> None:
        self._fernet = Fernet(check_secret_key(key.reveal()).encode("ascii"))

    def seal(self, plaintext: bytes) -> bytes:
        """The Fernet token of `plaintext` (authenticated, with a random IV)."""
        return self._fernet.encrypt(plaintext)

    def open(self, token: bytes) -> bytes:
        """The plaintext of a token this key sealed, else SealError."""
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise SealError("a sealed secret does not open with WABAHOOK_SECRET_KEY") from None

    def check_token(self) -> bytes:
        """A new token of the check value, to store beside the first sealed secret."""
        return self.seal(CHECK_VALUE)

    def opens_check(self, token: bytes) -> bool:
        """Whether the stored check value was sealed with this key."""
        try:
            return self.open(token) == CHECK_VALUE
        except SealError:
            return False

    def __repr__(self) -> str:
        return "Sealer(<key hidden>)"


class SecretsUnavailable(WabahookError):
    """A signed channel's secrets cannot be opened here: no key, or not the key that sealed them.

    A fault of this server's configuration: the receiver answers 503 (the sender retries)
    and logs it, never 401, which would tell Meta the deliveries are forged.
    """


def key_problem(
    sealer: Sealer | None, stored_check: bytes | None, meta_channels: bool
) -> str | None:
    """What is wrong with this process's key for the stored secrets, in one line, or None."""
    if sealer is None:
        if meta_channels:
            return (
                f"{SECRET_KEY_VARIABLE} is not set, but signed (meta or 360dialog-partner)"
                " channels exist: set it to the key their secrets were sealed with"
            )
        return None
    if stored_check is not None and not sealer.opens_check(stored_check):
        return f"{SECRET_KEY_VARIABLE} is not the key the channels' secrets were sealed with"
    return None


def stored_key_problem(settings: Settings) -> str | None:
    """What is wrong with this process's key for the secrets in the database, or None.

    None too when the database cannot tell now (down, or not migrated yet): the
    receiver then starts and answers 503 until it can, as for any database trouble.
    """
    db = Database(settings.database_url, application_name="wabahook-start", timeout=5.0, max_size=1)
    try:
        row = db.fetch_one("secret_key_check")
    except DatabaseError:
        return None
    finally:
        db.close()
    if row is None:
        return None
    sealed = bytes(row["sealed"]) if row["sealed"] is not None else None
    return key_problem(Sealer.of(settings.secret_key), sealed, bool(row["meta_channels"]))
