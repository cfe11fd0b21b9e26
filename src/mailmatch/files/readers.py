"""Read messages out of mail files: mbox, Maildir(++), Apple Mail exports and single ``.eml``.

Every reader streams (one message in memory at a time) and hands back the message bytes exactly
as stored; the only bytes removed are those the container format itself added (see
:mod:`mailmatch.files.mbox` for how an mbox is split, ``Content-Length`` and ``>From`` quoting
included). Nothing is ever written to the source. Maildirs are read with ``os.listdir``, which is
all ``mailbox.Maildir`` would do for us.

**One bad part does not stop the rest.** A message file, a ``cur/``/``new/`` directory, a
subfolder or an mbox inside an Apple Mail export that cannot be read (no permission, an I/O
error, a dangling symbolic link, a FIFO or a directory where a message file should be, a
subfolder that links back to one already read) is reported to the caller's ``on_problem`` with
its name and the reason, and reading goes on with the next one. A message a running mail client
renamed meanwhile (``new/`` to ``cur/``, changed flags) is found again under its new name; one it
deleted meanwhile is gone and not reported: there is nothing left to import. Without
``on_problem`` the first such part raises :class:`~mailmatch.errors.InvalidInput`.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from imapclient.imap_utf7 import decode as utf7_decode
from imapclient.imap_utf7 import encode as utf7_encode

from mailmatch.errors import InvalidInput
from mailmatch.files.mbox import CHUNK, NOEOL_SENDER, iter_mbox, open_regular_file
from mailmatch.files.models import FileMessage, FileProblem, OnProblem

__all__ = [
    "CHUNK",
    "NOEOL_SENDER",
    "FileMessage",
    "FileProblem",
    "OnProblem",
    "detect_kind",
    "folder_from_maildir",
    "iter_messages",
]

#: An RFC 5322 header field name and its colon: how a bare message (``.eml``) begins.
_HEADER = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
#: Maildir info after the unique name: ``:2,FLAGS`` (``;`` and ``!`` where ``:`` is not allowed).
_MAILDIR_INFO = re.compile(r"[:;!]2,([A-Za-z]*)$")
_UNIQUE_END = re.compile(r"[:;!]")


def detect_kind(path: Path) -> str:
    """Say what ``path`` holds: ``"mbox"``, ``"maildir"``, ``"eml"`` or ``"apple_mbox_dir"``.

    Decided by content, not by name, because real files are named anything (Thunderbird's
    ``Inbox`` has no extension; the SpamAssassin corpus is ``.txt``): a directory with ``cur/``
    and ``new/`` is a Maildir, a directory holding a file ``mbox`` is an Apple Mail export, a file
    beginning ``From `` (or empty) is an mbox and a file beginning with a header line is a
    single message. Anything else raises :class:`~mailmatch.errors.InvalidInput` saying what was
    expected, so a wrong path fails before an import starts rather than importing junk.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        return _detect_dir(path)
    if not stat.S_ISREG(mode):
        raise InvalidInput(f"{path} is neither a regular file nor a directory")
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head or head.startswith(b"From "):
        return "mbox"
    if _HEADER.match(head):
        return "eml"
    advice = ["pass an mbox file, a single message (.eml), a Maildir or an Apple Mail .mbox folder"]
    if path.suffix == ".msf" and path.with_suffix("").is_file():
        advice.insert(0, f"this is a Thunderbird index; the mail is in {path.with_suffix('')}")
    raise InvalidInput(
        f"{path} is not a mail file: it neither starts with an mbox 'From ' line "
        "nor with a message header",
        advice=advice,
    )


def _detect_dir(path: Path) -> str:
    if (path / "cur").is_dir() and (path / "new").is_dir():
        return "maildir"
    if (path / "mbox").is_file():
        return "apple_mbox_dir"
    expected = (
        "expected a Maildir (with cur/ and new/) or an Apple Mail export "
        "(a Name.mbox folder holding a file named mbox)"
    )
    try:
        entries = sorted(os.listdir(path))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if not entries:
        raise InvalidInput(f"{path} is an empty directory; {expected}")
    advice = []
    if path.name in ("cur", "new", "tmp"):
        advice.append(f"this looks like part of a Maildir: pass {path.parent}")
    exports = [name for name in entries if name.endswith(".mbox")]
    if exports:
        advice.append("pass each mailbox on its own, e.g. " + str(path / exports[0]))
    raise InvalidInput(f"{path} holds no mail this reader knows; {expected}", advice=advice)


def iter_messages(path: Path, on_problem: OnProblem | None = None) -> Iterator[FileMessage]:
    """Yield every message stored at ``path``, one at a time, in file (or sorted name) order.

    A generator: nothing is read until the first message is asked for, and a multi-gigabyte
    mbox never has more than one message (plus one ``CHUNK``) in memory. The kind of ``path`` is
    checked up front by :func:`detect_kind`, so a wrong path raises ``InvalidInput`` on the
    first ``next()``. Sources are given relative to ``path``'s parent (``inbox.mbox#17``, message
    numbers count from 1). Parts that cannot be read go to ``on_problem`` (see the module
    docstring); without it the first one raises ``InvalidInput``.
    """
    report = on_problem or _raise
    kind = detect_kind(path)
    if kind == "mbox":
        yield from iter_mbox(path, path.name, None, report)
    elif kind == "maildir":
        yield from _iter_maildir(path, path.name, None, report, set())
    elif kind == "apple_mbox_dir":
        yield from _iter_apple(path, path.name, _mailbox_name(path), report)
    else:
        try:
            yield FileMessage(raw=_read_file(path), source=path.name)
        except OSError as exc:
            report(FileProblem(path.name, _why(exc)))


def _raise(problem: FileProblem) -> None:
    raise InvalidInput(f"cannot read {problem.source}: {problem.reason}")


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _read_file(path: Path) -> bytes:
    with open_regular_file(path) as f:
        return f.read()


# --- Maildir ----------------------------------------------------------------------------------


def _iter_maildir(
    root: Path,
    label: str,
    folder: str | None,
    report: OnProblem,
    visited: set[tuple[int, int]],
) -> Iterator[FileMessage]:
    """Messages of ``cur/`` and ``new/`` by sorted name (``tmp/`` is never read), then subfolders.

    Sorting both directories together by name keeps the order stable across runs and, as names
    begin with the delivery time, roughly chronological. Names starting with ``.`` are skipped
    as the Maildir spec asks. ``visited`` holds the (device, inode) of every Maildir read so far,
    so that a subfolder linking back to one of them is reported instead of read forever.
    """
    try:
        info = root.stat()
    except OSError as exc:
        report(FileProblem(label, _why(exc)))
        return
    if (info.st_dev, info.st_ino) in visited:
        report(FileProblem(label, "links back to a folder already read; skipped"))
        return
    visited.add((info.st_dev, info.st_ino))
    entries: list[tuple[str, str]] = []
    for sub in ("cur", "new"):
        try:
            names = os.listdir(root / sub)
        except FileNotFoundError:
            continue
        except OSError as exc:
            report(FileProblem(f"{label}/{sub}", _why(exc)))
            continue
        entries.extend((name, sub) for name in names if not name.startswith("."))
    for name, sub in sorted(entries):
        found = _read_maildir_file(root, label, sub, name, report)
        if found is None:
            continue
        sub, name, raw = found
        flags_info = _MAILDIR_INFO.search(name)
        flags = flags_info.group(1) if flags_info and sub == "cur" else ""
        yield FileMessage(raw=raw, source=f"{label}/{sub}/{name}", flags=flags, folder=folder)
    for child in _maildir_subfolders(root, label, report):
        name = folder_from_maildir(child.name)
        yield from _iter_maildir(
            child,
            f"{label}/{child.name}",
            name if folder is None else f"{folder}/{name}",
            report,
            visited,
        )


def _read_maildir_file(
    root: Path, label: str, sub: str, name: str, report: OnProblem
) -> tuple[str, str, bytes] | None:
    path, source = root / sub / name, f"{label}/{sub}/{name}"
    try:
        return sub, name, _read_file(path)
    except FileNotFoundError:
        if path.is_symlink():
            try:
                target = os.readlink(path)
            except OSError:  # removed just now
                target = "a file"
            report(FileProblem(source, f"a symbolic link to {target}, which is missing"))
            return None
    except OSError as exc:
        report(FileProblem(source, _why(exc)))
        return None
    # Gone: renamed by a mail client (flags changed, new/ -> cur/), or deleted meanwhile.
    unique = _UNIQUE_END.split(name, maxsplit=1)[0]
    for other in ("cur", "new"):
        try:
            names = os.listdir(root / other)
        except OSError:
            continue
        for candidate in sorted(names):
            if candidate != name and _UNIQUE_END.split(candidate, maxsplit=1)[0] == unique:
                try:
                    return other, candidate, _read_file(root / other / candidate)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    report(FileProblem(f"{label}/{other}/{candidate}", _why(exc)))
                    return None
    return None


def _maildir_subfolders(root: Path, label: str, report: OnProblem) -> list[Path]:
    """Maildir++ subfolders (``.Sent``, ``.Archive.2020``): dot-directories with ``cur/``.

    A dot-directory whose ``cur`` exists but is no directory (or cannot be looked at) is a
    subfolder that cannot be read: reported, not silently passed over.
    """
    try:
        names = sorted(os.listdir(root))
    except OSError as exc:
        report(FileProblem(label, f"cannot list its subfolders: {_why(exc)}"))
        return []
    children = []
    for name in names:
        if not name.startswith(".") or name in (".", ".."):
            continue
        child = root / name
        try:
            mode = (child / "cur").stat().st_mode
        except FileNotFoundError:
            if (child / "cur").is_symlink():
                report(FileProblem(f"{label}/{name}/cur", "a symbolic link to a missing folder"))
            continue  # not a Maildir++ folder (.git, .cache, ...)
        except NotADirectoryError:
            continue  # a dot-file such as .uidvalidity
        except OSError as exc:
            report(FileProblem(f"{label}/{name}", _why(exc)))
            continue
        if stat.S_ISDIR(mode):
            children.append(child)
        else:
            report(FileProblem(f"{label}/{name}/cur", "not a directory"))
    return children


def folder_from_maildir(dirname: str) -> str:
    """``.Archive.2020`` -> ``Archive/2020``; ``.Entw&APw-rfe`` -> ``Entwürfe``.

    Maildir++ separates levels with ``.`` and stores names in IMAP's modified UTF-7 (as Dovecot,
    Courier and mbsync do); folder names here use ``/`` like the mail clients people know, for
    Maildir++ and Apple Mail alike. A part that is not valid modified UTF-7 is kept as it is.
    """
    parts = []
    for part in dirname.removeprefix(".").split("."):
        decoded = part
        if "&" in part:
            try:
                candidate = str(utf7_decode(part.encode("ascii")))
                if utf7_encode(candidate) == part.encode("ascii"):
                    decoded = candidate
            except (UnicodeError, ValueError):
                pass
        parts.append(decoded)
    return "/".join(parts)


# --- Apple Mail ---------------------------------------------------------------------------------


def _mailbox_name(path: Path) -> str:
    return path.name[: -len(".mbox")] if path.name.endswith(".mbox") else path.name


def _iter_apple(path: Path, label: str, folder: str, report: OnProblem) -> Iterator[FileMessage]:
    """``Name.mbox/mbox``, then child mailboxes ``Name.mbox/Child.mbox/mbox`` as ``Name/Child``."""
    yield from iter_mbox(path / "mbox", f"{label}/mbox", folder, report)
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        report(FileProblem(label, f"cannot list its child mailboxes: {_why(exc)}"))
        return
    for name in names:
        child = path / name
        if name.endswith(".mbox") and child.is_dir():
            if not (child / "mbox").exists():
                if (child / "mbox").is_symlink():
                    report(FileProblem(f"{label}/{name}/mbox", "a symbolic link to a missing file"))
                continue
            yield from _iter_apple(
                child, f"{label}/{name}", f"{folder}/{_mailbox_name(child)}", report
            )
