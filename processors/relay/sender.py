"""POSTs to one destination, many at once over kept-alive connections (libcurl's multi).

libcurl does the sockets, TLS and HTTP in C: a delivery costs the relay about 25 µs of
Python where a pure-Python client cost about 1 ms, and one process sends thousands a
second (docs/design/relay-http.md).
"""

from __future__ import annotations

import math
import select
import socket
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

import certifi
import pycurl

from processors.relay.http import ANSWER_BYTES, Answer, answer_of, failure_of, refused

# libcurl's errors for a request it cannot make at all: no retry will make it. (Not
# E_UNSUPPORTED_PROTOCOL: libcurl also says so of an answer that is no HTTP, which a
# proxy or balancer may give for a while.)
UNREQUESTABLE = frozenset({pycurl.E_URL_MALFORMAT, pycurl.E_NOT_BUILT_IN})


@dataclass(slots=True)
class _Transfer:
    """One POST in flight: whom it is for and what has come back so far."""

    key: Hashable
    allowed: tuple[str, ...]
    kept: bytearray = field(default_factory=bytearray)
    retry_after: str | None = None
    interim: bool = False  # the answer under way is a 1xx: another follows it
    head_done: bool = False  # the final answer's head arrived whole
    cut: bool = False  # the answer's body went past ANSWER_BYTES: the rest is never read
    refusal: str | None = None
    # What open_socket handed libcurl, which uses a duplicate of each: closed at the end.
    sockets: list[socket.socket] = field(default_factory=list)

    def on_header(self, line: bytes) -> None:
        if line.startswith(b"HTTP/"):  # a new answer begins (after a 100 Continue, say)
            self.retry_after = None
            self.interim = line[9:10] == b"1"  # "HTTP/1.1 1xx"
            return
        if line in (b"\r\n", b"\n"):  # the head's end: a cut after this is no cut head
            self.head_done = not self.interim
            return
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"retry-after":
            self.retry_after = value.decode("latin-1").strip()

    def on_body(self, chunk: bytes) -> int | None:
        room = ANSWER_BYTES - len(self.kept)
        self.kept += chunk[:room]
        if len(chunk) > room:
            self.cut = True
            return 0  # libcurl stops the transfer and closes that connection
        return None  # all of it taken

    def open_socket(self, purpose: int, address: tuple[int, int, int, tuple[str, ...]]) -> object:
        """Connect only where the rule allows, checked on the address itself: a name that
        resolves elsewhere later (DNS rebinding) is caught all the same, before a byte is
        sent. Reused connections were checked when they were opened."""
        family, socktype, protocol, where = address
        if refused(where[0], self.allowed):
            self.refusal = (
                f"refused to connect to {where[0]}: a link-local or metadata address"
                " (--allow-address names the ones a destination may use)"
            )
            return pycurl.SOCKET_BAD
        opened = socket.socket(family, socktype, protocol)
        self.sockets.append(opened)
        return opened


class Sender:
    """Concurrent POSTs to one destination: no redirects, no proxy, peers checked."""

    def __init__(
        self,
        *,
        timeout: float,
        max_in_flight: int,
        allowed: tuple[str, ...] = (),
        user_agent: str = "wabahook-relay",
    ) -> None:
        self._timeout_ms = max(1, int(timeout * 1000))
        self._allowed = allowed
        self._user_agent = user_agent
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, max_in_flight)
        self._multi.setopt(pycurl.M_MAXCONNECTS, max_in_flight)
        # libcurl says which sockets to wait on and when to call it back; the waiting is
        # ours (poll, which takes any descriptor number: select's fd sets stop at 1024).
        self._sockets: dict[int, int] = {}  # descriptor -> POLL_IN / POLL_OUT / POLL_INOUT
        self._timer_at: float | None = None  # when libcurl wants to run (monotonic)
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._idle: list[pycurl.Curl] = []
        self._running: dict[pycurl.Curl, _Transfer] = {}
        self._unsent: list[tuple[Hashable, Answer]] = []  # refused before they could start

    @property
    def in_flight(self) -> int:
        """How many POSTs have started and not been taken back through `finished()`."""
        return len(self._running) + len(self._unsent)

    def send(self, key: Hashable, url: str, body: bytes, headers: Iterable[bytes]) -> None:
        """Start POSTing `body` to `url`; `finished()` gives its answer under `key`.

        `headers` are whole `Name: value` lines; the request carries no others but
        Host, Content-Length, Accept and User-Agent.
        """
        lines = [b"Content-Type:", b"Expect:", *headers]
        if any(b"\r" in line or b"\n" in line or b"\0" in line for line in lines):
            # The callers never make one; a line break would start a header of its own.
            self._unsent.append((key, failure_of("a header holds a line break", retry=False)))
            return
        handle = self._idle.pop() if self._idle else self._new_handle()
        transfer = _Transfer(key, self._allowed)
        try:
            handle.setopt(pycurl.URL, url)
        except (UnicodeError, ValueError, pycurl.error) as exc:  # past ASCII, a NUL
            self._idle.append(handle)
            self._unsent.append((key, failure_of(f"cannot request {url!r}: {exc}", retry=False)))
            return
        handle.setopt(pycurl.POSTFIELDS, body)
        # An empty `Name:` line removes what libcurl would add: a form Content-Type for a
        # body without one, and Expect: 100-continue (a wait) for a large one.
        handle.setopt(pycurl.HTTPHEADER, lines)
        handle.setopt(pycurl.HEADERFUNCTION, transfer.on_header)
        handle.setopt(pycurl.WRITEFUNCTION, transfer.on_body)
        handle.setopt(pycurl.OPENSOCKETFUNCTION, transfer.open_socket)
        self._running[handle] = transfer
        self._multi.add_handle(handle)
        self._act(pycurl.SOCKET_TIMEOUT, 0)  # starts it: resolving, connecting

    def finished(self) -> list[tuple[Hashable, Answer]]:
        """The POSTs that have ended since the last call, with what each came to."""
        wait_any([self], 0)  # what has come in meanwhile, without waiting
        if self._timer_at is not None and time.monotonic() >= self._timer_at:
            self._timer_at = None
            self._act(pycurl.SOCKET_TIMEOUT, 0)
        ended, self._unsent = self._unsent, []
        while True:
            queued, done, failed = self._multi.info_read()
            for handle in done:
                ended.append(self._end(handle, None, ""))
            for handle, code, message in failed:
                ended.append(self._end(handle, code, message))
            if not queued:
                return ended

    def wait(self, seconds: float) -> None:
        """Until a connection of this sender has something to do, or `seconds` pass."""
        wait_any([self], seconds)

    def close(self) -> None:
        """Drop every transfer and connection."""
        for handle, transfer in self._running.items():
            self._multi.remove_handle(handle)
            handle.close()
            for opened in transfer.sockets:
                opened.close()
        self._running.clear()
        for handle in self._idle:
            handle.close()
        self._idle.clear()
        self._multi.close()

    def _new_handle(self) -> pycurl.Curl:
        handle = pycurl.Curl()
        handle.setopt(pycurl.NOSIGNAL, 1)
        # Never a proxy from the environment: the peer checked must be the destination.
        handle.setopt(pycurl.PROXY, "")
        handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        # One deadline for the whole attempt: a destination that trickles its answer
        # holds a slot no longer than one that never answers.
        handle.setopt(pycurl.TIMEOUT_MS, self._timeout_ms)
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, self._timeout_ms)
        handle.setopt(pycurl.USERAGENT, self._user_agent)
        handle.setopt(pycurl.CAINFO, certifi.where())
        # No Accept-Encoding: the answer's first bytes are read as sent, and nothing
        # compressed can inflate beyond what was read off the wire.
        return handle

    def _on_socket(self, what: int, fd: int, multi: object, data: object) -> None:
        if what == pycurl.POLL_REMOVE:
            self._sockets.pop(fd, None)
        else:
            self._sockets[fd] = what

    def _on_timer(self, milliseconds: int) -> None:
        self._timer_at = None if milliseconds < 0 else time.monotonic() + milliseconds / 1000

    def _act(self, fd: int, events: int) -> None:
        """Let libcurl move its transfers on: on `fd`'s `events`, or on its timer."""
        self._multi.socket_action(fd, events)

    def _end(self, handle: pycurl.Curl, code: int | None, message: str) -> tuple[Hashable, Answer]:
        transfer = self._running.pop(handle)
        self._multi.remove_handle(handle)
        for opened in transfer.sockets:
            opened.close()
        status = int(handle.getinfo(pycurl.RESPONSE_CODE)) or None
        # Cut short by us after the answer's head, or a 2xx whose body did not all arrive:
        # an answer all the same (the application took the delivery).
        whole_enough = code is None or transfer.cut or (status is not None and 200 <= status < 300)
        if whole_enough and status is not None and transfer.head_done:
            answer = answer_of(status, bytes(transfer.kept), transfer.retry_after)
        elif code is None:  # the connection ended within the head: no answer to go by
            answer = failure_of("the answer ended before its head did")
        else:
            reason = transfer.refusal or message or f"libcurl error {code}"
            answer = failure_of(reason, retry=code not in UNREQUESTABLE)
        # The body and callbacks go with the transfer; the handle keeps its connection.
        handle.setopt(pycurl.POSTFIELDS, b"")
        self._idle.append(handle)
        return transfer.key, answer


def wait_any(senders: Iterable[Sender], seconds: float) -> None:
    """Until a connection of any of `senders` has something to do (which it then does),
    or `seconds` pass."""
    poller = select.poll()
    owners: dict[int, Sender] = {}
    busy = False
    now = time.monotonic()
    for sender in senders:
        if not sender.in_flight:
            continue
        busy = True
        if sender._unsent:  # answers already known: no wait
            seconds = 0.0
        if sender._timer_at is not None:
            seconds = min(seconds, sender._timer_at - now)
        for fd, what in sender._sockets.items():
            poller.register(fd, _POLL_EVENTS[what])
            owners[fd] = sender
    if not busy:
        time.sleep(max(0.0, seconds))
        return
    for fd, happened in poller.poll(max(0, math.ceil(seconds * 1000))):
        owner = owners[fd]
        if fd in owner._sockets:  # an earlier action may have closed it
            owner._act(fd, _curl_events(happened))


_POLL_EVENTS = {
    pycurl.POLL_IN: select.POLLIN,
    pycurl.POLL_OUT: select.POLLOUT,
    pycurl.POLL_INOUT: select.POLLIN | select.POLLOUT,
}


def _curl_events(happened: int) -> int:
    """poll's events on a socket as libcurl's CSELECT bits."""
    events = 0
    if happened & (select.POLLIN | select.POLLHUP):
        events |= pycurl.CSELECT_IN
    if happened & select.POLLOUT:
        events |= pycurl.CSELECT_OUT
    if happened & (select.POLLERR | select.POLLNVAL):
        events |= pycurl.CSELECT_ERR
    return events


def post_once(sender: Sender, url: str, body: bytes, headers: Iterable[bytes]) -> Answer:
    """POST once and wait for what it comes to (`forward`, `destinations test`)."""
    sender.send(None, url, body, headers)
    while True:
        for _, answer in sender.finished():
            return answer
        sender.wait(1.0)
