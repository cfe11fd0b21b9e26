"""Pure helpers for threading messages into conversations (the store does the bookkeeping).

Threads are linked first by message ids (``References`` and ``In-Reply-To``, as JWZ
threading does), and, for mail whose client dropped those headers, by a fallback key: the
normalised subject plus the set of participants. Both halves of the fallback are needed:
"Re: invoice" alone would merge unrelated conversations across customers.

(The module name shadows nothing: it is only ever imported as ``mailmatch.ingest.threading``.)
"""

from __future__ import annotations

import hashlib
import re

from mailmatch.ingest.models import ParsedMessage

#: One reply/forward marker or list tag at the start of a subject: ``Re:``, ``RE[2]:``,
#: ``Fwd:``, ``Fw:``, ``AW:``/``WG:`` (German), ``SV:`` (Nordic), ``Antw:`` (Dutch),
#: ``[list-name]``; the colon may be full-width (CJK clients) or preceded by a space (French).
_PREFIX = re.compile(
    r"""^\s*(?:
        (?:re|fwd?|aw|wg|sv|antw)\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:\uff1a]
        |\[[^\[\]]*\]
    )\s*""",
    re.I | re.X,
)


def normalize_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and list tags, case-folded, spaces collapsed.

    Prefixes are stripped repeatedly because they pile up ("Re: [team] Fwd: RE: plan" ->
    "plan"). A subject that is nothing but prefixes normalises to "", which the store must
    not use as a fallback key (every "Re:" would join one thread).
    """
    text = subject
    while (match := _PREFIX.match(text)) is not None and match.end() > 0:
        text = text[match.end() :]
    return " ".join(text.casefold().split())


def thread_ids(msg: ParsedMessage) -> list[str]:
    """The message ids this message points at: ``References`` in order, then ``In-Reply-To``.

    Both, de-duplicated, because clients disagree: some send only ``In-Reply-To``, some
    truncate ``References``, and a message may reply to one id and reference others.
    """
    ids = [*msg.references, *([msg.in_reply_to] if msg.in_reply_to else [])]
    return list(dict.fromkeys(found for found in ids if found))


def participants_key(msg: ParsedMessage) -> str:
    """A hex SHA-256 of the sorted, lower-cased set of From, To and Cc addresses.

    A set, so that a reply (From and To swapped) gets the same key as the message it
    answers; hashed, so the key has a fixed size (64 characters) whatever the list length.
    """
    people = sorted({addr.email.lower() for addr in (*msg.from_, *msg.to, *msg.cc)})
    return hashlib.sha256("\n".join(people).encode("utf-8", "replace")).hexdigest()
