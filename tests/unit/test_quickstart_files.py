"""What `wabahook up` keeps in var/: private files, never written through a symbolic link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from processors.embedded import EmbeddedError, kept_secret, read_file, write_file
from processors.quickstart import QuickstartError, prepare_var_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_write_file_creates_a_file_only_its_owner_reads(tmp_path: Path) -> None:
    path = tmp_path / "demo-credentials.json"
    write_file(path, "first\n")
    assert path.read_text() == "first\n"
    assert mode(path) == 0o600
    path.chmod(0o644)  # as an older version may have left it
    write_file(path, "second\n")
    assert path.read_text() == "second\n"
    assert mode(path) == 0o600


def test_write_file_refuses_a_symbolic_link_and_leaves_its_target_alone(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("not yours\n")
    victim.chmod(0o644)
    link = tmp_path / "demo-credentials.json"
    link.symlink_to(victim)
    with pytest.raises(EmbeddedError, match="symbolic link"):
        write_file(link, "secret\n")
    assert victim.read_text() == "not yours\n"
    assert mode(victim) == 0o644


def test_write_file_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "postgres.password"
    os.mkfifo(fifo)
    with pytest.raises(EmbeddedError):  # at once: never waits for a reader
        write_file(fifo, "secret\n")


def test_read_file_refuses_a_symbolic_link_and_tightens_a_loose_mode(tmp_path: Path) -> None:
    assert read_file(tmp_path / "missing") is None
    victim = tmp_path / "victim"
    victim.write_text("elsewhere\n")
    (tmp_path / "link").symlink_to(victim)
    with pytest.raises(EmbeddedError, match="symbolic link"):
        read_file(tmp_path / "link")
    loose = tmp_path / "loose"
    loose.write_text("kept\n")
    loose.chmod(0o644)
    assert read_file(loose) == "kept\n"
    assert mode(loose) == 0o600


def test_a_kept_secret_is_random_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "valkey.password"
    first, new = kept_secret(path)
    assert new
    assert len(first) >= 40
    assert mode(path) == 0o600
    assert kept_secret(path) == (first, False)
    other, _ = kept_secret(tmp_path / "postgres.password")
    assert other != first
    path.write_text("")  # cut short: a new one
    renewed, new = kept_secret(path)
    assert new
    assert renewed != first


def test_a_new_var_dir_is_private(tmp_path: Path) -> None:
    folder = prepare_var_dir(tmp_path / "deep" / "var")
    assert folder.is_absolute()
    assert mode(folder) == 0o700


def test_a_var_dir_everyone_may_write_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    folder.mkdir()
    folder.chmod(0o1777)
    with pytest.raises(QuickstartError, match="writable by every user"):
        prepare_var_dir(folder)


def test_a_var_dir_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "var"
    folder.mkdir()
    monkeypatch.setattr(os, "geteuid", lambda: folder.stat().st_uid + 1)
    with pytest.raises(QuickstartError, match="belongs to another user"):
        prepare_var_dir(folder)


@pytest.mark.parametrize(
    "name", ["postgres", "postgres.password", "valkey", "valkey.password", "python"]
)
def test_a_symbolic_link_where_up_keeps_its_files_is_refused(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "var"
    folder.mkdir()
    (folder / name).symlink_to(tmp_path)
    with pytest.raises(QuickstartError, match="symbolic link"):
        prepare_var_dir(folder)
