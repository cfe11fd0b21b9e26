"""Raw message bytes -> :class:`ParsedMessage`, fast and without ever raising.

Why ``compat32`` and hand-written header decoding instead of ``policy.default``: on the
SpamAssassin corpus ``policy.default`` costs ~1.8 ms/message and raises on 27 of 6,046 real
messages (``LookupError`` for unknown charsets, ``IndexError`` for ``Message-ID: <>``), while
``compat32`` parses in ~0.18 ms and only ever records defects. The import budget (the whole
import faster than half of mbsync) leaves room for the cheap parser plus a few string
operations per header, not for the header registry.

Every stage is guarded and falls back one level: full extraction -> headers only -> raw only
(``sha256`` and ``size``). Problems become entries in ``ParsedMessage.defects``; the raw bytes
are always kept by the caller, so anything skipped here can be re-derived later.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.generator import BytesGenerator
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import Compat32
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache
from io import BytesIO
from typing import Any

from mailmatch.ingest.html_text import html_to_text
from mailmatch.ingest.models import Address, Attachment, ParsedMessage

#: ``body_text`` is cut here: enough for search and matching, bounded for the store.
MAX_BODY_CHARS = 200_000
DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024

_Defects = dict[str, None]  # an insertion-ordered set: each defect once, in order of discovery

#: Charset labels seen in real mail that Python does not know.
_LABELS = {"x-sjis": "shift_jis", "x-euc-jp": "euc_jp", "x-gbk": "gbk", "chinesebig5": "big5"}
_LABELS |= {"iso-8859-8-i": "iso-8859-8", "windows-874": "cp874", "x-mac-roman": "mac_roman"}
#: What mail labelled with these codecs really is: their supersets, as the WHATWG Encoding
#: Standard (what browsers do) says; ISO-8859-1 mail is full of windows-1252 curly quotes.
_SUPERSETS = {"iso8859-1": "cp1252", "gb2312": "gb18030", "gbk": "gb18030", "euc_kr": "cp949"}
_SUPERSETS |= {"shift_jis": "cp932", "big5": "big5hkscs", "tis-620": "cp874"}
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"})

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_ANGLE_ID = re.compile(r"<([^<>]*)>")
_FOLD = re.compile(r"\r?\n|\r")
_MAILBOX = re.compile(
    r"""\s*(?:
        (?:"([^"\\]*)"|([^",<>()@;:\\\[\]]*?))\s*<([^<>\s"(),;:\\]+)>  # [name] <addr>
        |([^<>\s"(),;:\\]+)                                          # bare addr
    )?\s*(?:,|\Z)""",
    re.X,
)
_SAFE_LABEL = re.compile(r"[^a-z0-9._+:-]")
_ADDRESS_HEADERS = ("sender", "from", "to", "cc", "bcc", "reply-to")
_ATTRIBUTE = {"from": "from_", "reply-to": "reply_to"}  # header name -> ParsedMessage field
_WANTED = frozenset(("subject", "message-id", "date", "in-reply-to", "references"))
_WANTED |= frozenset(_ADDRESS_HEADERS)


def parse_message(
    raw: bytes, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
) -> ParsedMessage:
    """Parse one message; never raises, whatever ``raw`` holds.

    ``parse_level`` says how far it got: ``"full"``, ``"headers"`` (the body could not be
    parsed or walked) or ``"raw"`` (no header could be read, e.g. empty input or binary junk).
    Attachment payloads larger than ``max_attachment_bytes`` keep their size and hash but not
    their data.
    """
    defects: _Defects = {}
    try:
        data = bytes(raw)
    except Exception:  # not bytes-like at all: still return an addressable result
        data = b""
        defects["not_bytes"] = None
    result = ParsedMessage(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    msg, whole = _parse(data, defects)
    if msg is None or len(msg) == 0:  # not one header field: nothing here reads as mail
        if msg is not None:
            defects["empty" if not data.strip() else "no_headers"] = None
        return _finish(result, defects)
    try:
        _extract_headers(_header_map(msg), result, defects)
        result.parse_level = "headers"
        if whole:
            _extract_body(msg, result, defects, max_attachment_bytes)
            result.parse_level = "full"
    except Exception as exc:
        defects[f"parse_error:{type(exc).__name__}"] = None
    return _finish(result, defects)


def _parse(data: bytes, defects: _Defects) -> tuple[Message | None, bool]:
    """The parsed message and whether its body was parsed too.

    compat32 records defects instead of raising, but it can still fail, e.g. with a
    ``RecursionError`` on thousands of nested multiparts; the header block alone is then
    parsed without looking at the body, so the message still gets its headers.
    """
    try:
        return message_from_bytes(data, policy=_POLICY), True
    except Exception as exc:
        defects[f"parse_error:{type(exc).__name__}"] = None
    try:
        return BytesHeaderParser(policy=_POLICY).parsebytes(data), False
    except Exception as exc:
        defects[f"parse_error:{type(exc).__name__}"] = None
    return None, False


def _finish(result: ParsedMessage, defects: _Defects) -> ParsedMessage:
    result.defects = list(defects)
    return result


# --- text decoding -----------------------------------------------------------------------


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


def _decode(data: bytes, label: str | None, defects: _Defects) -> str:
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


def _clean(text: str) -> str:
    """Drop what databases refuse: NUL characters and lone surrogates."""
    if text.isascii():
        return text.replace("\x00", "") if "\x00" in text else text
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _undo_surrogates(value: str, defects: _Defects | None = None) -> str:
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


class _Policy(Compat32):
    """compat32, but header values with raw 8-bit bytes come back as decoded ``str``.

    Plain compat32 wraps them in ``Header(charset="unknown-8bit")``, which ``get_filename``
    and friends then turn into U+FFFD; decoding here keeps ``résumé.pdf`` intact.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        return _undo_surrogates(value) if isinstance(value, str) else value


_POLICY = _Policy()
_GENERATOR_POLICY = _Policy(max_line_length=0)  # re-serialise forwarded mail without refolding


def _header_text(value: object, defects: _Defects) -> str:
    """A raw header value, unfolded, with 8-bit bytes decoded."""
    return _undo_surrogates(_FOLD.sub("", value if isinstance(value, str) else str(value)), defects)


def _decode_words(text: str, defects: _Defects) -> str:
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
            out.append(_decode(run, label, defects))
            run = b""
        if not adjacent:
            out.append(between)
        if chunk is None:
            defects["header_decode"] = None
            out.append(match.group(0))
        else:
            label, run = word_label, run + chunk
    if run:
        out.append(_decode(run, label, defects))
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


# --- headers -----------------------------------------------------------------------------


def _header_map(msg: Message) -> dict[str, list[str]]:
    """The header fields this module reads, by lower-cased name, as raw values (one pass)."""
    headers: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        key = name.lower()
        if key in _WANTED:
            headers.setdefault(key, []).append(value if isinstance(value, str) else "")
    return headers


def _unstructured(value: str, defects: _Defects) -> str:
    return _clean(" ".join(_decode_words(_header_text(value, defects), defects).split()))


def _address_pairs(value: str) -> list[tuple[str, str]]:
    """``(name, address)`` pairs; the common shapes by one regex, the rest by ``getaddresses``.

    ``getaddresses`` is a pure-Python tokenizer and was a sixth of the parse time on the
    corpus. Lists of ``addr``, ``Name <addr>`` and ``"Name" <addr>`` (nearly all real headers)
    match ``_MAILBOX`` end to end and give the same pairs; anything else (comments, groups,
    escapes, quoted local parts) goes to the stdlib parser.
    """
    pairs: list[tuple[str, str]] = []
    pos, end = 0, len(value)
    while pos < end:
        match = _MAILBOX.match(value, pos)
        if match is None or match.end() == pos:
            return getaddresses([value])
        if match.group(3) or match.group(4):
            name = match.group(1) if match.group(1) is not None else match.group(2) or ""
            pairs.append((name.strip(), match.group(3) or match.group(4)))
        pos = match.end()
    return pairs


def _addresses(values: list[str], defects: _Defects) -> list[Address]:
    """Split on the *encoded* text (a decoded name may hold commas), then decode names."""
    found: list[Address] = []
    for value in values:
        try:
            pairs = _address_pairs(_header_text(value, defects))
        except Exception:
            defects["bad_address"] = None
            continue
        for name, email in pairs:
            email = _clean("".join(email.split()).lower())
            if email:
                name = _clean(" ".join(_decode_words(name, defects).split()))
                found.append(Address(name=name, email=email))
    return found


def _msg_ids(value: str) -> list[str]:
    """Message ids in ``value``: ``<...>`` tokens without brackets and inner whitespace.

    Without any brackets, bare ``local@domain`` tokens are accepted (old mailers wrote them);
    phrases such as ``Your message of "..."`` are not ids and are dropped.
    """
    ids = ["".join(found.split()) for found in _ANGLE_ID.findall(value)]
    ids = [found for found in ids if found]
    if not ids and "<" not in value:
        ids = [token.strip("<>,;\"'()") for token in value.split() if "@" in token]
    return [found for found in ids if found]


def _message_id(value: str) -> str | None:
    ids = _msg_ids(value)
    if ids:
        return ids[0]
    bare = "".join(value.split()).strip("<>")  # an id without "@" is odd but still an id
    return bare or None


def _parse_date(value: str, defects: _Defects) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:  # "-0000": UTC with the source zone unknown (RFC 5322)
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except Exception:
        defects["bad_date"] = None
        return None


def _extract_headers(
    headers: dict[str, list[str]], result: ParsedMessage, defects: _Defects
) -> None:
    """Fill the header fields of ``result``; each field is independent of the others."""
    if "subject" in headers:
        result.subject = _unstructured(headers["subject"][0], defects)
    raw_id = _header_text(headers.get("message-id", [""])[0], defects)
    result.message_id = _clean(_message_id(raw_id) or "") or None
    if result.message_id is None:
        defects["no_message_id"] = None
    if "date" in headers:
        result.date = _parse_date(_header_text(headers["date"][0], defects), defects)
    else:
        defects["no_date"] = None
    for header in _ADDRESS_HEADERS:
        if header in headers:
            setattr(result, _ATTRIBUTE.get(header, header), _addresses(headers[header], defects))
    if "in-reply-to" in headers:
        replied = _msg_ids(_header_text(headers["in-reply-to"][0], defects))
        result.in_reply_to = _clean(replied[0]) if replied else None
    if "references" in headers:
        text = " ".join(_header_text(value, defects) for value in headers["references"])
        result.references = list(dict.fromkeys(_clean(ref) for ref in _msg_ids(text)))


# --- body and attachments -----------------------------------------------------------------


def _mime_fields(part: Message) -> tuple[str, str | None, str]:
    """``(content type, disposition, both raw fields lower-cased)`` of a part, in one pass.

    ``Message.get`` scans every header each time and ``get_content_type`` and friends each
    call it, so on messages with 30 headers these helpers were a fifth of the parse time; this
    reads the two fields once. The rules are compat32's (``get_content_type``,
    ``get_content_disposition``), plus dropping junk such as ``text/plain charset=x``.
    """
    content_type: str | None = None
    disposition: str | None = None
    for name, value in part.raw_items():
        lowered = name.lower()
        if lowered == "content-type" and content_type is None:
            content_type = str(value)
        elif lowered == "content-disposition" and disposition is None:
            disposition = str(value)
    if content_type is None:
        ctype = part.get_default_type()
    else:
        ctype = content_type.partition(";")[0].strip().lower()
        ctype = ctype.split(None, 1)[0] if ctype.count("/") == 1 else "text/plain"
    raw_fields = f"{content_type or ''}\n{disposition or ''}".lower()
    if disposition is not None:
        disposition = disposition.partition(";")[0].strip().lower() or None
    return ctype, disposition, raw_fields


def _filename(part: Message, raw_fields: str, defects: _Defects) -> str | None:
    """The part's file name (RFC 2231 or 2047 encoded or plain), only looked up if plausible."""
    if "name" not in raw_fields:  # get_filename parses two headers' parameters: skip it
        return None
    filename = part.get_filename()
    if filename is None:
        return None
    return _clean(" ".join(_decode_words(filename, defects).split())) or None


def _decoded(part: Message) -> bytes:
    """The part's payload with its transfer encoding undone (compat32 records bad base64)."""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _serialise(messages: list[Message]) -> bytes:
    """Bytes of the messages inside a ``message/*`` part (compat32 parsed them eagerly)."""
    out = BytesIO()
    for sub in messages:
        BytesGenerator(out, mangle_from_=False, policy=_GENERATOR_POLICY).flatten(sub)
    return out.getvalue()


def _attachment(
    part: Message,
    ctype: str,
    disposition: str | None,
    filename: str | None,
    data: bytes,
    cap: int,
    defects: _Defects,
) -> Attachment:
    if filename is None and ctype in ("message/rfc822", "message/global"):
        filename = "forwarded.eml"
    content_id = part.get("Content-ID")
    cid = _message_id(_header_text(content_id, defects)) if content_id is not None else None
    return Attachment(
        filename=filename,
        content_type=ctype,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data if len(data) <= cap else None,
        # Shown in place: said so, or referenced from HTML by Content-ID without a disposition.
        inline=disposition == "inline" or (disposition is None and cid is not None),
        content_id=_clean(cid) if cid else None,
    )


def _extract_body(msg: Message, result: ParsedMessage, defects: _Defects, cap: int) -> None:
    """Walk the MIME tree: plain text to the body (HTML only if no plain), the rest attached.

    The walk is iterative and each part is guarded on its own, so one broken part (bad
    base64, an unserialisable forwarded message) costs that part only.
    """
    plain: list[str] = []
    html: list[str] = []
    budget = MAX_BODY_CHARS
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop()
        try:
            ctype, disposition, raw_fields = _mime_fields(part)
            filename = _filename(part, raw_fields, defects)
            if part.is_multipart():  # (get_payload() of a leaf may decode, and can raise)
                payload = part.get_payload()
                subparts = [sub for sub in payload if isinstance(sub, Message)]
                if ctype.startswith("message/"):  # forwarded mail, delivery reports
                    data = _serialise(subparts)
                    result.attachments.append(
                        _attachment(part, ctype, disposition, filename, data, cap, defects)
                    )
                else:
                    stack.extend(reversed(subparts))
                continue
            # A multipart whose boundary is missing arrives as one text blob: keep it as text.
            is_text = ctype in ("text/plain", "text/html") or ctype.startswith("multipart/")
            if is_text and disposition != "attachment" and filename is None:
                if budget > 0:
                    charset = part.get_content_charset() if "charset" in raw_fields else None
                    text = _decode(_decoded(part), charset, defects)
                    (html if ctype == "text/html" else plain).append(text)
                    budget -= len(text)
                continue
            data = _decoded(part)
            if data or filename is not None:
                result.attachments.append(
                    _attachment(part, ctype, disposition, filename, data, cap, defects)
                )
        except Exception as exc:
            defects[f"part_error:{type(exc).__name__}"] = None
        finally:
            for defect in part.defects:
                defects[type(defect).__name__] = None
    texts = [text for text in plain if text.strip()]
    if not texts and html:
        texts = [html_to_text(text, max_chars=MAX_BODY_CHARS) for text in html]
    body = "\n\n".join(text.replace("\r\n", "\n").strip() for text in texts if text.strip())
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS]
        defects["body_truncated"] = None
    result.body_text = _clean(body)
