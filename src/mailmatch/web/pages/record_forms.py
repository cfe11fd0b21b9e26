"""What the record forms share: lists typed into one field, and a deal's amount as typed.

Its own module so that the pages that add records (:mod:`.records`) and those that edit or
import them (:mod:`.record_edits`, :mod:`.contacts_upload`) read forms the same way.
"""

from __future__ import annotations

import re

from mailmatch.errors import InvalidInput

_SPLIT = re.compile(r"[\s,;]+")


def split_list(value: str) -> list[str]:
    """Emails or domains typed into one field, separated by commas, spaces or new lines."""
    return [part for part in _SPLIT.split(value.strip()) if part]


def parse_amount(value: str) -> float | None:
    cleaned = value.strip().replace(",", "").replace(" ", "")
    if not cleaned:
        return None
    try:
        amount = float(cleaned)
    except ValueError:
        raise InvalidInput(
            f"not an amount: {value[:40]!r}", advice=["e.g. 12000 or 12000.50"]
        ) from None
    if not -1e15 < amount < 1e15:
        raise InvalidInput("the amount is out of range")
    return amount
