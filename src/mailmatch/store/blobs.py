"""Content-addressed, compressed bytes in the database.

Raw messages and attachments are kept in the ``blobs`` table keyed by SHA-256, so a message in
three folders, or an attachment sent ten times, is stored once. Zstandard (level 3) is used:
on the corpus it compresses to 41% in 0.13 s, where zlib's fastest level needs 0.45 s for 42%,
and compression sits on the import's hot path. Blobs written with zlib stay readable.

Putting blobs in the database rather than one file each keeps a batch one transaction: a crash
never leaves a message row without its bytes, or orphan files.
"""

from __future__ import annotations

import hashlib
import threading
import zlib

import zstandard

ZSTD, ZLIB, NONE = "zstd", "zlib", "none"
_local = threading.local()  # zstandard's (de)compressor objects must not be shared by threads


def _codecs() -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    pair = getattr(_local, "pair", None)
    if pair is None:
        pair = _local.pair = (zstandard.ZstdCompressor(level=3), zstandard.ZstdDecompressor())
    return pair


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(data: bytes) -> tuple[str, bytes]:
    """Compress unless that does not help (already compressed attachments)."""
    packed = _codecs()[0].compress(data)
    if len(packed) < len(data):
        return ZSTD, packed
    return NONE, data


def unpack(codec: str, data: bytes) -> bytes:
    if codec == ZSTD:
        return _codecs()[1].decompress(data)
    if codec == ZLIB:
        return zlib.decompress(data)
    if codec == NONE:
        return bytes(data)
    raise ValueError(f"unknown blob codec {codec!r}")
