"""Content-addressed, compressed bytes in the database.

Raw messages and attachments are kept in the ``blobs`` table keyed by SHA-256, so a message in
three folders, or an attachment sent ten times, is stored once. zlib at level 1 is used: it
keeps the whole import inside its time budget (a few hundred MB/s) and still roughly halves
typical mail. Putting blobs in the database rather than one file each keeps a batch one
transaction: a crash never leaves a message row without its bytes, or orphan files.
"""

from __future__ import annotations

import hashlib
import zlib

ZLIB, NONE = "zlib", "none"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(data: bytes, level: int = 1) -> tuple[str, bytes]:
    """Compress unless that does not help (already compressed attachments)."""
    packed = zlib.compress(data, level)
    if len(packed) < len(data):
        return ZLIB, packed
    return NONE, data


def unpack(codec: str, data: bytes) -> bytes:
    if codec == ZLIB:
        return zlib.decompress(data)
    if codec == NONE:
        return bytes(data)
    raise ValueError(f"unknown blob codec {codec!r}")
