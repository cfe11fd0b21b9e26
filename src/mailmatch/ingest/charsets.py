"""Decoding mail text safely: bytes and header words of any declared charset -> clean ``str``.

Mail declares its charsets badly: labels Python does not know (``x-sjis``), labels that are
no charset at all (``default``), and subsets of what was really written (ISO-8859-1 mail full
of windows-1252 curly quotes). Declared charsets are therefore mapped to the supersets
browsers use (the WHATWG Encoding Standard), unknown labels fall back to UTF-8-else-
windows-1252 and are recorded as defects, and RFC 2047 encoded-words are decoded one by one,
so one bad word spoils nothing else. Nothing here raises on any input.
"""

from __future__ import annotations

import binascii
import codecs
import re
from functools import lru_cache

Defects = dict[str, None]  # an insertion-ordered set: each defect once, in order of discovery

#: Charset labels seen in real mail that Python does not know.
_LABELS = {"x-sjis": "shift_jis", "x-euc-jp": "euc_jp", "x-gbk": "gbk", "chinesebig5": "big5"}
_LABELS |= {"iso-8859-8-i": "iso-8859-8", "windows-874": "cp874", "x-mac-roman": "mac_roman"}
#: What mail labelled with these codecs really is: their supersets, as the WHATWG Encoding
#: Standard (what browsers do) says; ISO-8859-1 mail is full of windows-1252 curly quotes.
_SUPERSETS = {"iso8859-1": "cp1252", "gb2312": "gb18030", "gbk": "gb18030", "euc_kr": "cp949"}
_SUPERSETS |= {"shift_jis": "cp932", "big5": "big5hkscs", "tis-620": "cp874"}
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"})

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_SAFE_LABEL = re.compile(r"[^a-z0-9._+:-]")


@lru_cache(maxsize=512)
def _codec(label: str) -> str | None:
    """The Python codec for a MIME charset label, or ``None`` when there is no text codec."""
    name = label.strip().strip("\"'").lower()
    try:
        info = codecs.lookup(_LABELS.get(name, name))
    except Exception:
        return None
    # Python also has codecs that are no MIME charset: bytes-to-bytes ones ("base64", "zlib"),
    # and text ones that refuse errors="replace" or conjure surrogates ("idna").
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return _SUPERSETS.get(info.name, info.name)


def _fallback_decode(data: bytes) -> str:
    """Bytes of unknown encoding: UTF-8 when valid (rarely accidental), else windows-1252.

    windows-1252 rather than latin-1 because that is what undeclared 8-bit mail from the era
    mostly is (curly quotes in 0x80-0x9F); with ``replace`` it cannot fail.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def decode(data: bytes, label: str | None, defects: Defects) -> str:
    """Decode with the declared charset; unknown labels fall back and record a defect.

    No label, or US-ASCII (which says nothing about stray 8-bit bytes), take the fallback
    chain without a defect: that is simply what undeclared mail is.
    """
    codec = _codec(label) if label and label.strip() else "ascii"
    if codec == "ascii":
        return _fallback_decode(data)
    if codec is None:
        defects[f"unknown_charset:{_SAFE_LABEL.sub('', str(label).lower())[:40]}"] = None
        return _fallback_decode(data)
    try:
        return data.decode(codec, "replace")
    except Exception:  # a codec that breaks its own errors="replace" contract
        defects[f"charset_error:{codec}"] = None
        return _fallback_decode(data)


def clean(text: str) -> str:
    """Drop what databases refuse: NUL characters and lone surrogates."""
    if text.isascii():
        return text.replace("\x00", "") if "\x00" in text else text
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def undo_surrogates(value: str, defects: Defects | None = None) -> str:
    """Decode the raw 8-bit bytes the parser smuggles into ``str`` as surrogate escapes.

    UTF-8 is accepted silently (RFC 6532 allows it in headers); anything else is read as
    windows-1252 and recorded as ``header_8bit``.
    """
    if value.isascii():
        return value
    try:
        data = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:  # already real text (not from bytes): leave it
        return value
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if defects is not None:
            defects["header_8bit"] = None
        return data.decode("cp1252", "replace")


def decode_words(text: str, defects: Defects) -> str:
    """Decode RFC 2047 encoded-words, per word, so one bad word spoils nothing else.

    Written by hand rather than with ``decode_header``/``make_header``: those raise on unknown
    charsets and bad base64, and mangle non-ASCII text between encoded words. Adjacent words
    are joined as bytes before decoding (UTF-8 characters are often split across two words)
    and the whitespace between them is dropped, as RFC 2047 section 6.2 says.
    """
    if "=?" not in text:
        return text
    out: list[str] = []
    label, run = "", b""  # the charset and bytes of adjacent words not yet decoded
    pos = 0
    for match in _ENCODED_WORD.finditer(text):
        between, pos = text[pos : match.start()], match.end()
        word_label = match.group(1).split("*", 1)[0].lower()  # drop an RFC 2231 language
        chunk = _word_bytes(match.group(2), match.group(3))
        adjacent = run and (not between or between.isspace())
        if run and (not adjacent or chunk is None or word_label != label):
            out.append(decode(run, label, defects))
            run = b""
        if not adjacent:
            out.append(between)
        if chunk is None:
            defects["header_decode"] = None
            out.append(match.group(0))
        else:
            label, run = word_label, run + chunk
    if run:
        out.append(decode(run, label, defects))
    out.append(text[pos:])
    return "".join(out)


def _word_bytes(kind: str, payload: str) -> bytes | None:
    """The bytes of one encoded word (``B``: base64, padding repaired; ``Q``), or ``None``."""
    try:
        if kind in "qQ":
            return binascii.a2b_qp(payload.encode("utf-8"), header=True)
        return binascii.a2b_base64((payload + "=" * (-len(payload) % 4)).encode())
    except (binascii.Error, ValueError):
        return None
