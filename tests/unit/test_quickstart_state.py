"""Where `up` started as root keeps its servers: a folder per var/, programs its user can run."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from processors.local import state, var_files
from processors.local.local_files import EmbeddedError, QuickstartError, as_user, service_user


def test_each_var_dir_gets_its_own_servers_folder_named_after_its_checkout(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    first = state.checkout_home(Path("/root/wabahook/var"), root)
    again = state.checkout_home(Path("/root/wabahook/var"), root)
    other = state.checkout_home(Path("/root/wabahook-2/var"), root)
    odd = state.checkout_home(Path("/srv/../we ird$name/var"), root)
    assert first == again
    assert first != other
    assert first.name.startswith("wabahook-")
    assert other.name.startswith("wabahook-2-")
    assert odd.parent == root
    assert " " not in odd.name
    for folder in (root, first):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755
        assert folder.stat().st_uid == os.geteuid()


def test_a_servers_folder_others_could_steer_is_refused(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    loose.chmod(0o777)
    with pytest.raises(EmbeddedError, match="writable by root alone"):
        state.shared_folder(loose)
    (tmp_path / "link").symlink_to(tmp_path)
    with pytest.raises(EmbeddedError, match="not a folder"):
        state.shared_folder(tmp_path / "link")


def test_programs_the_server_user_cannot_reach_are_run_from_a_copy_kept_together(
    tmp_path: Path,
) -> None:
    user = service_user()
    assert user is not None, "checks what `up` does when started as root"
    hidden = tmp_path / "site-packages"  # pytest's tmp_path: only root may enter
    (hidden / "pkg" / "bin").mkdir(parents=True)
    (hidden / "pkg.libs").mkdir()
    program = hidden / "pkg" / "bin" / "hello"
    program.write_text('#!/bin/sh\ncat "$(dirname "$0")/../../pkg.libs/word"\n')
    program.chmod(0o700)
    (hidden / "pkg.libs" / "word").write_text("found\n")
    (hidden / "pkg.libs" / "word").chmod(0o600)
    root = Path(tempfile.mkdtemp(prefix="wabahook-state-"))  # where its user may pass
    root.chmod(0o755)
    try:
        base = state.runnable(hidden, ("pkg/bin", "pkg.libs"), "pkg/bin/hello", user, root)
        assert base.parent == root / state.PROGRAMS
        assert state.runnable(hidden, ("pkg/bin", "pkg.libs"), "pkg/bin/hello", user, root) == base
        ran = subprocess.run([str(base / "pkg/bin/hello")], capture_output=True, text=True,
                             cwd="/", check=False, **as_user(user))  # fmt: skip
        assert (ran.returncode, ran.stdout) == (0, "found\n"), ran.stderr
        for path in [base, *base.rglob("*")]:
            assert path.stat().st_uid == 0, path
            assert not path.stat().st_mode & 0o022, path
        # A changed program is a new copy; the same content is never copied twice.
        program.write_text("#!/bin/sh\necho changed\n")
        state.runnable.cache_clear()  # a process takes its programs as fixed; a new one looks again
        changed = state.runnable(hidden, ("pkg/bin", "pkg.libs"), "pkg/bin/hello", user, root)
        assert changed != base
        assert sorted(p.name for p in (root / state.PROGRAMS).iterdir()) == sorted(
            [base.name, changed.name]
        )
        # What its user can run where it is, is run there.
        assert state.runnable(Path("/usr"), ("bin",), "bin/true", user, root) == Path("/usr")
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=True)


def test_a_kept_port_is_kept_and_a_taken_one_refused_in_one_line(tmp_path: Path) -> None:
    first = var_files.kept_port(tmp_path, "postgres")
    assert var_files.kept_port(tmp_path, "postgres") == first
    assert (tmp_path / "postgres.port").read_text() == f"{first}\n"
    var_files.refuse_taken(tmp_path, "postgres", first)
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(QuickstartError) as refused:
            var_files.refuse_taken(tmp_path, "postgres", taken)
    assert str(refused.value) == (
        f"port {taken} of the embedded postgres (kept in {tmp_path}/postgres.port) is taken "
        f"by another program: stop it, or remove {tmp_path}/postgres.port to choose another port"
    )


@pytest.mark.parametrize("kept", ["", "abc", "80", "99999", "-1", "8080\n8081", "9" * 400])
def test_a_kept_port_that_is_no_port_is_replaced(tmp_path: Path, kept: str) -> None:
    (tmp_path / "valkey.port").write_text(kept)
    (tmp_path / "valkey.port").chmod(0o600)
    port = var_files.kept_port(tmp_path, "valkey")
    assert 1024 <= port <= 65535
    assert (tmp_path / "valkey.port").read_text() == f"{port}\n"


def test_a_receiver_that_refuses_the_demo_is_one_line(tmp_path: Path) -> None:
    from processors.channels import IssuedCredential
    from processors.local import demo
    from processors.local.embedded import free_port

    credential = IssuedCredential("demo", "demo", "not-the-password")
    with pytest.raises(QuickstartError) as refused:  # nobody listens there
        demo.post(f"http://127.0.0.1:{free_port()}/webhooks/demo", credential, b"{}")
    assert str(refused.value).startswith("the receiver did not take the demo notifications: ")
    assert "\n" not in str(refused.value)
