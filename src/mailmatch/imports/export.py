"""Every stored message back out, byte for byte, as a Maildir or an mbox file.

**Folders.** A Maildir export keeps the folders the messages were imported from, the Maildir++
way Dovecot, Courier and mbsync read: ``INBOX`` is the Maildir itself, every other folder a
``.Name`` sub-maildir with its own ``cur/ new/ tmp/`` (``Archive/2024`` becomes
``.Archive.2024``). A message held by several folders is written to each, as the server shows it;
one with no folder (imported from a file) goes to the root. Folders of the same name in two
accounts share one sub-maildir. A ``.`` in a folder name is a level separator in Maildir++ (and
for servers whose delimiter is ``.``, such as Courier), so it becomes one here too.

**Exporting again** into the same place adds only what is not there yet, so an export can be
repeated to bring a backup up to date. A Maildir file is named after the message,
``<date>.<sha256>.mailmatch`` (its ``Date`` as Unix time, so names sort by date; its SHA-256,
so the name says which bytes it holds), and a message whose name a folder holds already, in
``new/`` or in ``cur/`` with whatever flags a mail client gave it since, is skipped. An mbox
export made by mailmatch is read first and only messages whose bytes it does not hold yet are
appended; any other existing file is refused (see :class:`~mailmatch.files.writers.MboxWriter`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mailmatch.errors import InvalidInput
from mailmatch.files.readers import iter_messages
from mailmatch.files.writers import MaildirWriter, MboxWriter
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import Location, Message
from mailmatch.timeutil import aware

#: The folder a Maildir++ root holds.
INBOX = "INBOX"


@dataclass
class FolderFigures:
    """One folder of a Maildir export: where it went and what happened there."""

    folder: str  # as the server names it ("INBOX", "Archive/2024")
    path: str  # relative to the export, "." for INBOX
    written: int = 0
    skipped: int = 0  # there already from an earlier export

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ExportResult:
    format: str
    dest: str
    written: int = 0
    skipped: int = 0
    folders: list[FolderFigures] = field(default_factory=list)  # Maildir only

    def to_json(self) -> dict[str, Any]:
        return {
            "exported": self.written,  # the key of the first version: messages written
            "format": self.format,
            "dest": self.dest,
            "written": self.written,
            "skipped": self.skipped,
            "folders": [f.to_json() for f in self.folders],
        }


def export(store: MessageStore, kind: str, dest: Path) -> int:
    """Export and return how many messages were written (see :func:`export_messages`)."""
    return export_messages(store, kind, dest).written


def export_messages(store: MessageStore, kind: str, dest: Path) -> ExportResult:
    """Write every message of ``store`` not yet at ``dest`` (see the module docstring)."""
    if kind == "maildir":
        return _export_maildir(store, dest)
    if kind == "mbox":
        return _export_mbox(store, dest)
    raise InvalidInput(f"unknown export format {kind!r}", advice=["use maildir or mbox"])


def maildir_folder(folder: str) -> str | None:
    """The :class:`MaildirWriter` folder for a stored folder name; None for INBOX (the root)."""
    levels = [level for level in folder.replace(".", "/").split("/") if level.strip()]
    if not levels or (len(levels) == 1 and levels[0].upper() == INBOX):
        return None
    return "/".join(levels)


def unique_name(sha256: str, date: datetime | None) -> str:
    """The Maildir name of a stored message: the same on every export (see the module docstring)."""
    when = aware(date)
    seconds = max(0, int(when.timestamp())) if when is not None else 0
    return f"{seconds}.{sha256}.mailmatch"


def _export_maildir(store: MessageStore, dest: Path) -> ExportResult:
    writer = MaildirWriter(dest)
    result = ExportResult("maildir", str(dest))
    figures: dict[str | None, FolderFigures] = {}
    for date, raw, folders in _with_folders(store):
        name = unique_name(hashlib.sha256(raw).hexdigest(), date)
        targets = {maildir_folder(folder) for folder in folders} or {None}
        for target in sorted(targets, key=lambda t: (t is not None, t or "")):
            if target not in figures:
                path = writer.directory(target).relative_to(dest)
                figures[target] = FolderFigures(target or INBOX, str(path))
            if writer.has(name, target):
                figures[target].skipped += 1
                result.skipped += 1
                continue
            writer.add(raw, folder=target, unique=name)
            figures[target].written += 1
            result.written += 1
    result.folders = sorted(figures.values(), key=lambda f: (f.path != ".", f.path))
    return result


def _export_mbox(store: MessageStore, dest: Path) -> ExportResult:
    result = ExportResult("mbox", str(dest))
    append = dest.exists()
    with MboxWriter(dest, append=append) as mbox:  # refuses an existing file that is not ours
        held = {hashlib.sha256(m.raw).digest() for m in iter_messages(dest)} if append else set()
        for _pk, date, raw in store.iter_raw():
            digest = hashlib.sha256(raw).digest()
            if digest in held:
                result.skipped += 1
                continue
            held.add(digest)
            mbox.add(raw, date=aware(date))
            result.written += 1
    return result


def _with_folders(store: MessageStore, batch: int = 500) -> Iterator[tuple[Any, bytes, list[str]]]:
    """``(date, raw, folders)`` of every stored message, the folders looked up a batch at a time."""
    chunk: list[tuple[int, Any, bytes]] = []
    for row in store.iter_raw(batch):
        chunk.append(row)
        if len(chunk) == batch:
            yield from _folders_of(store, chunk)
            chunk = []
    yield from _folders_of(store, chunk)


def _folders_of(
    store: MessageStore, rows: list[tuple[int, Any, bytes]]
) -> Iterator[tuple[Any, bytes, list[str]]]:
    if not rows:
        return
    folders: dict[int, list[str]] = {}
    with store.db.read() as conn:
        found = conn.execute(
            select(Location.message_pk, Location.folder)
            .join(Message, Message.id == Location.message_pk)
            .where(
                Message.workspace_id == store.workspace_id,
                Location.message_pk.in_([pk for pk, _date, _raw in rows]),
            )
            .distinct()
        )
        for pk, folder in found:
            folders.setdefault(pk, []).append(folder)
    for pk, date, raw in rows:
        yield date, raw, folders.get(pk, [])
