"""The relay's HTTP sender against raw sockets on loopback: what counts as an answer, and
requests that cannot be made ending as answers, never as exceptions."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest

from processors.relay.http import Answer, ascii_url, refused
from processors.relay.sender import Sender, post_once


def serve_once(reply: Callable[[socket.socket], None]) -> tuple[str, threading.Thread]:
    """A one-connection server that reads the request, then does what `reply` does."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            conn.recv(65536)
            reply(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/", thread


def answer_to(reply: Callable[[socket.socket], None]) -> Answer:
    """What one POST to a server replying as `reply` does comes to."""
    url, server = serve_once(reply)
    sender = Sender(timeout=5, max_in_flight=1)
    try:
        return post_once(sender, url, b"{}", [])
    finally:
        sender.close()
        server.join(timeout=5)


@pytest.mark.parametrize(
    "head",
    [b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nContent-Len", b"HTTP/1.1 200 OK\r\nX: y\r\n"],
)
def test_a_connection_closed_within_the_answers_head_is_no_delivery(head: bytes) -> None:
    answer = answer_to(lambda conn: conn.sendall(head))
    assert not answer.delivered
    assert answer.retry
    assert answer.error == "the answer ended before its head did"


def test_an_answer_without_a_length_ending_with_its_connection_counts() -> None:
    answer = answer_to(lambda conn: conn.sendall(b"HTTP/1.0 204 No Content\r\n\r\n"))
    assert answer.delivered


@pytest.mark.parametrize(
    ("url", "lines"),
    [
        ("http://127.0.0.1:9/caf\N{LATIN SMALL LETTER E WITH ACUTE}", []),  # not made ASCII
        ("http://127.0.0.1:9/\x00", []),
        ("http://127.0.0.1:9/", [b"X-A: 1\r\nX-B: 2"]),
    ],
)
def test_a_request_that_cannot_be_made_is_a_final_answer_not_an_exception(
    url: str, lines: list[bytes]
) -> None:
    sender = Sender(timeout=5, max_in_flight=2)
    try:
        sender.send("bad", url, b"{}", lines)
        assert sender.in_flight == 1
        ((key, answer),) = sender.finished()
        assert sender.in_flight == 0
    finally:
        sender.close()
    assert key == "bad"
    assert (answer.delivered, answer.retry) == (False, False)


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("http://example.com/a b?q=\N{SNOWMAN}", "http://example.com/a%20b?q=%E2%98%83"),
        ("https://B\N{LATIN SMALL LETTER U WITH DIAERESIS}cher.example:8443/x%2Fy",
         "https://xn--bcher-kva.example:8443/x%2Fy"),
        ("http://[::1]:8080/in", "http://[::1]:8080/in"),
        ("https://app.example.com/hook?a=1&b=2", "https://app.example.com/hook?a=1&b=2"),
    ],
)  # fmt: skip
def test_urls_are_requested_in_ascii(url: str, sent: str) -> None:
    assert ascii_url(url) == sent


@pytest.mark.parametrize("url", ["http://h:99999/", "http://h:8:8/", "http://[fe80::zz]/"])
def test_urls_no_request_can_go_to_are_refused(url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  (each its own message)
        ascii_url(url)


def test_the_unspecified_address_is_refused_like_this_network() -> None:
    assert refused("::")
    assert refused("0.0.0.0")
    assert not refused("::1")


def test_connections_past_descriptor_1024_are_waited_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """select()'s descriptor sets end at 1024; a busy relay holds more. Every wait must
    still see the answer arrive: each of these POSTs is answered only after a pause, so
    each is seen to end through a wait on a descriptor past 1024 (none times out)."""
    import os
    import resource
    import time

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft > 1200, "this test needs more than 1,200 open files"
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    seen: set[int] = set()
    real_act = Sender._act

    def act(self: Sender, fd: int, events: int) -> None:
        seen.add(fd)
        real_act(self, fd, events)

    monkeypatch.setattr(Sender, "_act", act)

    def late_answer(conn: socket.socket) -> None:
        time.sleep(0.2)
        conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    try:
        answers = [answer_to(late_answer) for _ in range(3)]
    finally:
        for fd in filler:
            os.close(fd)
    assert all(answer.delivered for answer in answers)
    assert max(seen) > 1024  # libcurl's sockets were numbered past select()'s limit


def test_an_answer_that_is_no_http_is_retried_not_dead() -> None:
    """A balancer or proxy may answer junk for a while: worth another attempt."""
    answer = answer_to(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n"))
    assert (answer.delivered, answer.retry) == (False, True)


def test_a_2xx_whose_body_is_cut_off_counts_as_delivered() -> None:
    """The application answered 2xx: it took the delivery, whatever became of the body."""
    answer = answer_to(
        lambda conn: conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
    )
    assert answer.delivered
