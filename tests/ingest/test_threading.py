"""Threading keys: which ids link a message, and the subject + participants fallback."""

from __future__ import annotations

import pytest

from mailmatch.ingest.models import Address, ParsedMessage
from mailmatch.ingest.threading import normalize_subject, participants_key, thread_ids


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Quarterly numbers", "quarterly numbers"),
        ("Re: Quarterly  numbers", "quarterly numbers"),
        ("RE: Fwd: re: Quarterly numbers", "quarterly numbers"),
        ("[team] Re: [ILUG] FW: Quarterly numbers", "quarterly numbers"),
        ("AW: WG: Angebot", "angebot"),  # German Outlook
        ("SV: Antw: Tilbud", "tilbud"),  # Nordic, Dutch
        ("Re[2]: Re^3: Re (4): plan", "plan"),
        ("RE : réunion", "réunion"),  # French spacing
        ("Re：会议", "会议"),  # full-width colon
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # case-folded, not just lower-cased
        ("Regarding: the plan", "regarding: the plan"),  # "Re" must be a whole prefix
        ("Re:", ""),
        ("", ""),
    ],
)
def test_normalize_subject(subject: str, expected: str) -> None:
    assert normalize_subject(subject) == expected


def message(**fields: object) -> ParsedMessage:
    return ParsedMessage(sha256="0" * 64, size=0, **fields)  # type: ignore[arg-type]


def test_thread_ids_are_references_then_in_reply_to_without_repeats() -> None:
    reply = message(references=["root@x", "mid@x"], in_reply_to="mid@x")
    assert thread_ids(reply) == ["root@x", "mid@x"]
    assert thread_ids(message(in_reply_to="root@x")) == ["root@x"]
    assert thread_ids(message()) == []


def test_a_reply_has_the_same_participants_key_as_its_original() -> None:
    ann, bob, cat = (Address("Ann", "ann@x.org"), Address("", "bob@y.org"), Address("C", "c@z"))
    original = message(from_=[ann], to=[bob], cc=[cat])
    reply = message(from_=[Address("Bob B.", "BOB@Y.ORG")], to=[ann, cat])
    assert participants_key(original) == participants_key(reply)
    assert len(participants_key(original)) == 64
    assert participants_key(original) != participants_key(message(from_=[ann], to=[bob]))
