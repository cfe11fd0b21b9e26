"""Mail files in and out: mbox (mboxrd/mboxo, Google Takeout, Thunderbird), Maildir(++),
Apple Mail ``.mbox`` exports and single ``.eml`` messages.

``readers`` streams messages out of whatever the user points at, keeping each message's bytes
exactly as stored (only the container's own framing is removed); ``writers`` exports to a
Maildir or an mboxrd file such that reading the export back gives the same bytes. Both are
plain functions and classes over ``bytes`` and ``Path`` so that the import pipeline, the CLI and
tests use them alike; see each module's docstring for the format decisions.
"""

from mailmatch.files.readers import FileMessage, FileProblem, detect_kind, iter_messages
from mailmatch.files.writers import MaildirWriter, MboxWriter

__all__ = [
    "FileMessage",
    "FileProblem",
    "MaildirWriter",
    "MboxWriter",
    "detect_kind",
    "iter_messages",
]
