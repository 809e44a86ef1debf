"""Request ids made by the receiver: uuid4().hex's shape, distinct across forked workers."""

from __future__ import annotations

import os
import re

from receiver.request_hooks import _new_request_id


def test_an_id_has_uuid4_hex_shape_and_ids_do_not_repeat() -> None:
    ids = {_new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"[0-9a-f]{32}", found) for found in ids)


def test_forked_workers_make_different_ids() -> None:
    # gunicorn forks its workers from one master: a generator they shared unseeded would
    # give every worker the same sequence of ids.
    _new_request_id()  # the master has used the generator before forking
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's side
        os.close(read)
        os.write(write, "".join(_new_request_id() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        theirs = pipe.read().decode()
    os.waitpid(child, 0)
    ours = "".join(_new_request_id() for _ in range(5))
    assert len(theirs) == len(ours) == 160
    assert theirs != ours
