"""Connection secrets never reach a log line or an error of the database layer."""

from __future__ import annotations

import logging

import pytest

from receiver.config import Secret
from receiver.db import Database, DatabaseError

PASSWORD = "S3cretPW-redact"


def test_pool_log_lines_and_errors_carry_no_password(caplog: pytest.LogCaptureFixture) -> None:
    # libpq quotes a conninfo it cannot parse whole; the pool logs that on every attempt.
    db = Database(
        Secret(f"postgresql:/wabahook:{PASSWORD}@db/x"), application_name="t", timeout=0.5
    )
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(DatabaseError) as raised:
            db.fetch_one("ping")
    finally:
        db.close()
    pool_lines = [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")]
    assert pool_lines, "the pool logged no failed attempt: the test shows nothing"
    assert any("********" in line for line in pool_lines)
    assert not [line for line in pool_lines if PASSWORD in line]
    assert PASSWORD not in str(raised.value)
