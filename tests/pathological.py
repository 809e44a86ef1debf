"""Bodies built to make a parser slow, each filling the size limit, and a clean one to match.

Every step that reads a stored body (the drain's parse, `events show`, the console)
must spend on each of these at most a small constant factor of what it spends on
`clean()` of the same size. Shared by the parser's unit tests, the catalogue that
posts them through the real receiver, and the drain bench.
"""

from __future__ import annotations

import json

MIB = 1024 * 1024
T = 1750000000


def _fill(head: bytes, unit: bytes, tail: bytes, size: int) -> bytes:
    """`head`, then `unit` repeated, then `tail`: as close to `size` bytes as units allow."""
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


def clean(size: int = MIB) -> bytes:
    """A well-formed Cloud API body of statuses, about `size` bytes: the yardstick."""
    statuses = []
    length = 200
    n = 0
    while length < size - 400:
        item = {
            "id": f"wamid.clean-{n:07d}",
            "status": ("sent", "delivered", "read")[n % 3],
            "timestamp": str(T + n),
            "recipient_id": f"49151{n:08d}",
            "conversation": {"id": f"c{n % 97}", "origin": {"type": "utility"}},
            "pricing": {"billable": True, "pricing_model": "PMP", "category": "utility"},
        }
        text = json.dumps(item, separators=(",", ":"))
        statuses.append(text)
        length += len(text) + 1
        n += 1
    value = (
        '{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111",'
        '"phone_number_id":"100"},"statuses":[' + ",".join(statuses) + "]}"
    )
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":'
        '[{"field":"messages","value":' + value + "}]}]}"
    ).encode()


def bodies(size: int = MIB) -> dict[str, bytes]:
    """Pathological bodies of about `size` bytes, by name."""
    head = b'{"statuses":[],"n":'
    return {
        # Brackets enough to need the nesting check, then an escaped quote run that
        # never closes: a string pattern that must find its closing quote restarts at
        # every one of them.
        "brackets then an unterminated string of escaped quotes": _fill(
            b"[]" * 300 + b'"', b'\\"', b"", size
        ),
        "deep brackets then an unterminated string of escaped quotes": _fill(
            b"[" * 256 + b'"', b'\\"', b"", size
        ),
        "a run of escaped backslashes": _fill(head + b'"', b"\\\\", b'"}', size),
        "an odd run of backslashes": _fill(head + b'"', b"\\\\", b'\\"}', size),
        "100,000 keys": _keys(size),
        "one key 100,000 times": _fill(b'{"statuses":[]', b',"k":0', b"}", size),
        "a number of a million digits": _fill(head, b"9", b"}", size),
        "a fraction of a million digits": _fill(head + b"0.", b"1", b"}", size),
        "an exponent of a million digits": _fill(head + b"1e", b"9", b"}", size),
        "nested objects at the depth limit": _fill(
            head + b"[", b'{"a":' * 250 + b"1" + b"}" * 250 + b",", b"0]}", size
        ),
        "nested arrays at the depth limit": _fill(
            head + b"[", b"[" * 250 + b"]" * 250 + b",", b"0]}", size
        ),
        "escaped surrogate pairs": _fill(head + b'"', b"\\ud83d\\ude00", b'"}', size),
        "unicode escapes of NUL's neighbours": _fill(head + b'"', b"\\u0001", b'"}', size),
        # Identity links: every status and every contact names the same person, so that
        # matching contacts to items pairwise, or joining them one by one, is quadratic.
        "thousands of statuses and contacts of one person": _one_person(size),
        # The most new people a body can bring: each a person of its own, to create.
        "tens of thousands of contacts, each a new person": _new_people(size),
        # The most items a body can hold: history messages need nothing but an id, and
        # each item is read out of its document (once it was a decompression each).
        "tens of thousands of history messages of nothing but an id": _fill(
            b'{"id":"e","event":"history","data":{"history":[{"threads":[{"id":"491",'
            b'"messages":[{"id":"h"}',
            b',{"id":"h"}',
            b"]}]}]}}",
            size,
        ),
    }


def _one_person(size: int) -> bytes:
    """Statuses to thousands of numbers of one user id, and a contacts[] item for each."""
    statuses, contacts = [], []
    length, n = 300, 0
    while length < size - 300:
        status = (
            f'{{"id":"wamid.p{n}","status":"delivered","timestamp":"{T + n}",'
            f'"recipient_id":"49151{n:08d}","recipient_user_id":"US.1"}}'
        )
        contact = f'{{"profile":{{"name":"P"}},"wa_id":"49151{n:08d}","user_id":"US.1"}}'
        statuses.append(status)
        contacts.append(contact)
        length += len(status) + len(contact) + 2
        n += 1
    value = '{"contacts":[' + ",".join(contacts) + '],"statuses":[' + ",".join(statuses) + "]}"
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":'
        '[{"field":"messages","value":' + value + "}]}]}"
    ).encode()


def _keys(size: int) -> bytes:
    """An object of distinct keys, as many as fit in `size` bytes."""
    parts = [b'{"statuses":[]']
    length = len(parts[0]) + 1
    n = 0
    while length < size - 16:
        part = b',"k%d":0' % n
        parts.append(part)
        length += len(part)
        n += 1
    return b"".join(parts) + b"}"


def _new_people(size: int) -> bytes:
    """A contacts[] list of as many distinct phone numbers as fit in `size` bytes."""
    head, parts, n = b'{"contacts":[', [], 0
    length = len(head) + 2
    while length < size - 32:
        part = b'{"wa_id":"1%011d"}' % n
        parts.append(part)
        length += len(part) + 1
        n += 1
    return head + b",".join(parts) + b"]}"


def history(size: int = MIB, per_thread: int = 10) -> tuple[bytes, int]:
    """A Coexistence history chunk of about `size` bytes, wrapped as 360dialog delivers
    it to a partner's URL, and how many messages it holds: threads of `per_thread`."""
    threads, length, n = [], 400, 0
    while length < size - 2048:
        customer = f"49170{n // per_thread:08d}"
        messages = ",".join(
            json.dumps(
                {"from": customer, "id": f"wamid.hist-{n + k:08d}", "timestamp": str(T - n - k),
                 "type": "text", "text": {"body": f"message {n + k} of the past"},
                 "history_context": {"status": "READ"}},
                separators=(",", ":"),
            )
            for k in range(per_thread)
        )  # fmt: skip
        thread = '{"id":"' + customer + '","messages":[' + messages + "]}"
        threads.append(thread)
        length += len(thread) + 1
        n += per_thread
    body = (
        '{"id":"evt-history","event":"history","data":{"id":"1","messaging_product":"whatsapp",'
        '"metadata":{"display_phone_number":"15550001111","phone_number_id":"100"},"history":'
        '[{"metadata":{"phase":0,"chunk_order":1,"progress":100},"threads":['
        + ",".join(threads)
        + "]}]}}"
    )
    return body.encode(), n
