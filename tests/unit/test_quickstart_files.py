"""What `wabahook up` keeps in var/: private files, never written through a symbolic link.

Started as root, the servers' folders are their unprivileged user's: whatever it
leaves there never steers what root reads, writes or hands over.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import pytest

from processors.local.local_files import (
    EmbeddedError,
    QuickstartError,
    check_server_reachable,
    kept_secret,
    private_folder,
    read_file,
    service_user,
    write_file,
)
from processors.local.postgres import EmbeddedPostgres
from processors.local.var_files import prepare as prepare_var_dir


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


@pytest.mark.parametrize("loose", [0o1777, 0o777, 0o770, 0o730, 0o702])
def test_a_var_dir_others_may_write_is_refused(tmp_path: Path, loose: int) -> None:
    folder = tmp_path / "var"
    folder.mkdir()
    folder.chmod(loose)
    with pytest.raises(QuickstartError, match="writable by other users") as refused:
        prepare_var_dir(folder)
    assert "\n" not in str(refused.value)


def test_a_var_dir_that_is_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (tmp_path / "var").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(QuickstartError, match="var: it is a symbolic link"):
        prepare_var_dir(tmp_path / "var")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(QuickstartError, match="dangling: it is a symbolic link"):
        prepare_var_dir(tmp_path / "dangling")
    assert not (tmp_path / "nowhere").exists()


def test_a_var_dir_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "var"
    folder.mkdir()
    monkeypatch.setattr(os, "geteuid", lambda: folder.stat().st_uid + 1)
    with pytest.raises(QuickstartError, match="belongs to another user"):
        prepare_var_dir(folder)


@pytest.mark.parametrize(
    "name", ["postgres", "postgres.password", "postgres.port", "valkey", "up.lock", "servers"]
)
def test_a_symbolic_link_where_up_keeps_its_files_is_refused(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "var"
    folder.mkdir()
    (folder / name).symlink_to(tmp_path)
    with pytest.raises(QuickstartError, match="symbolic link"):
        prepare_var_dir(folder)


def server_user() -> pwd.struct_passwd:
    user = service_user()
    assert user is not None, "checks what root does in the servers' unprivileged user's folders"
    return user


def test_adopting_a_folder_hands_over_only_our_own_files_with_one_name(tmp_path: Path) -> None:
    user = server_user()
    folder = tmp_path / "valkey"
    folder.mkdir()
    (folder / "left-by-root").write_text("log\n")
    (folder / "left-by-root-too").mkdir()
    victim = tmp_path / "shadow"  # as /etc/shadow, on the same file system
    victim.write_text("root's\n")
    victim.chmod(0o600)
    os.link(victim, folder / "valkey.log")  # what the user could do with protected_hardlinks=0
    (folder / "valkey.pid").symlink_to(victim)
    (folder / "foreign").write_text("")
    os.chown(folder / "foreign", 65534, 65534)
    os.mkfifo(folder / "fifo")

    private_folder(folder, user, adopt=True)

    assert folder.stat().st_uid == user.pw_uid
    assert mode(folder) == 0o700
    assert (folder / "left-by-root").stat().st_uid == user.pw_uid
    assert (folder / "left-by-root-too").stat().st_uid == user.pw_uid
    assert victim.stat().st_uid == 0, "a hard link handed root's file to the user"
    assert (folder / "valkey.pid").lstat().st_uid == 0
    assert (folder / "foreign").stat().st_uid == 65534
    assert (folder / "fifo").stat().st_uid == 0
    assert victim.read_text() == "root's\n"


def test_a_private_folder_is_never_a_symbolic_link(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir(mode=0o755)
    (tmp_path / "valkey").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(EmbeddedError, match="valkey: it is a symbolic link"):
        private_folder(tmp_path / "valkey", service_user(), adopt=True)
    assert mode(tmp_path / "elsewhere") == 0o755


def test_files_of_the_server_user_are_read_and_written_through_no_link(tmp_path: Path) -> None:
    user = server_user()
    victim = tmp_path / "victim"
    victim.write_text("root's\n")
    victim.chmod(0o600)
    (tmp_path / "pg_hba.conf").symlink_to(victim)
    os.link(victim, tmp_path / "postgresql.conf")
    for name in ("pg_hba.conf", "postgresql.conf"):
        with pytest.raises(EmbeddedError, match=f"refusing {tmp_path / name}"):
            read_file(tmp_path / name, owner=user)
        with pytest.raises(EmbeddedError, match=f"refusing {tmp_path / name}"):
            write_file(tmp_path / name, "host all all 0.0.0.0/0 trust\n", owner=user, append=True)
    assert victim.read_text() == "root's\n"
    assert victim.stat().st_uid == 0
    write_file(tmp_path / "new.conf", "x = 1\n", owner=user)  # created, then handed over
    write_file(tmp_path / "new.conf", "y = 2\n", owner=user, append=True)
    assert (tmp_path / "new.conf").stat().st_uid == user.pw_uid
    assert read_file(tmp_path / "new.conf", owner=user) == "x = 1\ny = 2\n"
    assert read_file(tmp_path / "new.conf", owner=user, last_bytes=6) == "y = 2\n"
    with pytest.raises(EmbeddedError, match="not a regular file of ours"):
        read_file(tmp_path / "new.conf")  # the user's, not ours


def test_a_postmaster_pid_that_is_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    server_user()
    data = tmp_path / "postgres"
    data.mkdir()
    elsewhere = tmp_path / "elsewhere.pid"
    elsewhere.write_text(f"{os.getpid()}\n{data}\n0\n5432\n")
    (data / "postmaster.pid").symlink_to(elsewhere)
    with pytest.raises(EmbeddedError, match=r"postmaster\.pid: it is a symbolic link"):
        EmbeddedPostgres(data).stop()


def test_a_server_its_user_cannot_reach_is_refused_in_one_line(tmp_path: Path) -> None:
    user = server_user()
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    program = Path("/bin/true")
    check_server_reachable(user, Path("/srv/data"), program)
    with pytest.raises(EmbeddedError) as refused:
        check_server_reachable(user, hidden / "data", program)
    assert str(refused.value) == (
        f"the user {user.pw_name}, which runs wabahook's servers and processes when started "
        f"as root, cannot reach {hidden}: keep the data in a folder it can reach "
        "(e.g. --var-dir /srv/wabahook)"
    )
    with pytest.raises(EmbeddedError, match=f"cannot reach {hidden}/valkey-server: install"):
        check_server_reachable(user, Path("/srv/data"), hidden / "valkey-server")
