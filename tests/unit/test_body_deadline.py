"""The body deadline's hooks on a real gunicorn request, over a local socket pair."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser

from receiver import gunicorn_conf
from receiver.config import Settings

BODY = b'{"entry":[]}'


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    with server, client:
        yield server, client


def parsed(server: socket.socket, client: socket.socket, head: bytes) -> Any:
    """The request gunicorn parses from `head` (a request line and headers) sent on `client`."""
    client.sendall(head)
    return next(RequestParser(Config(), server, ("127.0.0.1", 4242)))


def test_the_body_deadline_leaves_the_database_deadline_room_before_the_worker_timeout() -> None:
    db_timeout = Settings.from_env({"DATABASE_URL": "postgresql://u@h/d"}).db_timeout
    assert gunicorn_conf.BODY_DEADLINE_SECONDS + db_timeout < gunicorn_conf.timeout


def test_a_body_arriving_in_time_is_read_and_the_connection_given_back_as_it_was(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    req = parsed(server, client, b"POST /w HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n")
    gunicorn_conf.pre_request(None, req)
    assert req.unreader.sock is not server
    client.sendall(BODY)  # after the headers were parsed: read through the deadline's recv()
    assert req.body.read(len(BODY)) == BODY
    gunicorn_conf.post_request(None, req, {}, None)
    # Blocking again, as gunicorn had it: a leftover timeout would cut its keep-alive reads.
    assert req.unreader.sock is server
    assert server.gettimeout() is None
    assert not req.should_close()


def test_the_hooks_leave_a_request_without_a_socket_alone() -> None:
    class NoSocket:
        unreader = object()

    req = NoSocket()
    gunicorn_conf.pre_request(None, req)
    gunicorn_conf.post_request(None, req, {}, None)
    assert req.unreader is NoSocket.unreader
