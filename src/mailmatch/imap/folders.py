"""Which folders an import reads by default: the INBOX and the Sent folder.

The Sent folder is found by its RFC 6154 SPECIAL-USE flag first, then by the names clients and
servers use in many languages. Junk and Trash are never read unless the user names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SENT_NAMES = (
    "Sent", "Sent Items", "Sent Messages", "Sent Mail", "[Gmail]/Sent Mail",
    "[Google Mail]/Sent Mail", "INBOX.Sent", "INBOX/Sent", "Gesendet", "Gesendete Objekte",
    "Gesendete Elemente", "Envoyés", "Éléments envoyés", "Messages envoyés", "Enviados",
    "Elementos enviados", "Posta inviata", "Inviata", "Verzonden", "Verzonden items",
    "Skickat", "Wysłane", "Odeslaná pošta", "Отправленные", "已发送", "已發送", "送信済み",
)  # fmt: skip
SKIPPED_FLAGS = (b"\\Junk", b"\\Trash", b"\\Noselect", b"\\NonExistent")


@dataclass(frozen=True)
class FolderInfo:
    name: str
    flags: tuple[bytes, ...]

    @property
    def selectable(self) -> bool:
        return not any(f in self.flags for f in (b"\\Noselect", b"\\NonExistent"))


def folder_infos(listing: Sequence[tuple[Sequence[bytes], bytes, str]]) -> list[FolderInfo]:
    """From IMAPClient's ``list_folders()`` answer."""
    return [FolderInfo(name, tuple(flags)) for flags, _delim, name in listing]


def sent_folder(folders: list[FolderInfo]) -> str | None:
    for folder in folders:
        if b"\\Sent" in folder.flags and folder.selectable:
            return folder.name
    by_name = {f.name.casefold(): f.name for f in folders if f.selectable}
    for name in SENT_NAMES:
        if name.casefold() in by_name:
            return by_name[name.casefold()]
    return None


def default_folders(folders: list[FolderInfo]) -> list[str]:
    inbox = next((f.name for f in folders if f.name.upper() == "INBOX"), "INBOX")
    sent = sent_folder(folders)
    return [inbox] + ([sent] if sent else [])


def resolve_folders(requested: list[str] | None, folders: list[FolderInfo]) -> list[str]:
    """The user's folder names matched to the server's (case-insensitive), or the defaults.

    The word ``Sent`` stands for the account's Sent folder whatever its real name.
    """
    if not requested:
        return default_folders(folders)
    by_name = {f.name.casefold(): f.name for f in folders}
    resolved = []
    for name in requested:
        if name.casefold() == "sent" and name.casefold() not in by_name:
            real = sent_folder(folders)
            if real:
                resolved.append(real)
                continue
        resolved.append(by_name.get(name.casefold(), name))
    return list(dict.fromkeys(resolved))
