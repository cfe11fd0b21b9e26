"""Every stored message back out, byte for byte, as a Maildir or an mbox file."""

from __future__ import annotations

from pathlib import Path

from mailmatch.errors import InvalidInput
from mailmatch.files.writers import MaildirWriter, MboxWriter
from mailmatch.store.messages import MessageStore
from mailmatch.timeutil import aware


def export(store: MessageStore, kind: str, dest: Path) -> int:
    if kind == "maildir":
        writer = MaildirWriter(dest)
        count = 0
        for _pk, _date, raw in store.iter_raw():
            writer.add(raw)
            count += 1
        return count
    if kind == "mbox":
        count = 0
        with MboxWriter(dest) as mbox:
            for _pk, date, raw in store.iter_raw():
                mbox.add(raw, date=aware(date))
                count += 1
        return count
    raise InvalidInput(f"unknown export format {kind!r}", advice=["use maildir or mbox"])
