"""Reading ``UID FETCH (BODY.PEEK[])`` answers: the fast common shape and the library fallback."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mailmatch.imap.bodies import bodies_from_response, fetch_bodies
from mailmatch.imap.session import skip_unlogged_debug
from tests.sync.conftest import Mailbox, message


def test_every_body_comes_back_byte_for_byte_and_unseen(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    sent = [message(n, body="x" * (n * 500)) for n in range(1, 8)]
    for raw in sent:
        box.deliver(raw)
    client = box.imap()
    try:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        bodies = fetch_bodies(client, uids)
        assert fetch_bodies(client, []) == {}
    finally:
        client.logout()

    assert sorted(bodies) == sorted(uids)
    assert sorted(bodies.values()) == sorted(box.server_messages())
    assert box.seen_count() == 0


# imaplib's untagged FETCH data, as it hands it over: the word FETCH is taken off, a literal
# comes as (line up to the literal, literal bytes) and the rest of the answer as its own line.


def test_the_common_shape_is_read_without_the_general_parser() -> None:
    data = [(b"1 (UID 10 BODY[] {5}", b"hello"), b")", (b"2 (UID 11 BODY[] {3}", b"bye"), b")"]
    assert bodies_from_response(data, {10, 11}) == {10: b"hello", 11: b"bye"}


def test_other_shapes_go_to_imapclients_parser() -> None:
    data = [
        (b"1 (UID 10 FLAGS (\\Seen) BODY[] {5}", b"hello"),  # FLAGS before the body
        b")",
        (b"2 (BODY[] {3}", b"bye"),  # UID after the body
        b" UID 11)",
        b"3 (UID 12 BODY[] NIL)",  # a server that has no body for it
        b'4 (UID 13 BODY[] "short")',  # a quoted string instead of a literal
    ]
    assert bodies_from_response(data, {10, 11, 12, 13}) == {
        10: b"hello",
        11: b"bye",
        13: b"short",
    }


def test_answers_for_uids_not_asked_are_dropped() -> None:
    data = [
        (b"1 (UID 10 BODY[] {5}", b"hello"),
        b")",
        (b"9 (UID 99 BODY[] {5}", b"other"),
        b")",
        b"9 (UID 99 FLAGS (\\Deleted))",  # unsolicited: another session changed a flag
    ]
    assert bodies_from_response(data, {10}) == {10: b"hello"}


@pytest.mark.parametrize(("level", "expected"), [(logging.INFO, 0), (logging.DEBUG, 5)])
def test_imaplib_debug_text_is_built_only_for_a_logger_that_records_it(
    mailbox: Any, level: int, expected: int
) -> None:
    box: Mailbox = mailbox()
    logger = logging.getLogger("imapclient.imaplib")
    before = logger.level
    logger.setLevel(level)
    client = box.imap()
    try:
        skip_unlogged_debug(client)
        assert client._imap.debug == expected
    finally:
        logger.setLevel(before)
        client.logout()
