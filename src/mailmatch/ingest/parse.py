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

import hashlib
import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.generator import BytesGenerator
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import Compat32
from email.utils import getaddresses, parsedate_to_datetime
from io import BytesIO
from typing import Any

from mailmatch.ingest.charsets import Defects, clean, decode, decode_words, undo_surrogates
from mailmatch.ingest.html_text import html_to_text
from mailmatch.ingest.models import Address, Attachment, ParsedMessage

#: ``body_text`` is cut here: enough for search and matching, bounded for the store.
MAX_BODY_CHARS = 200_000
DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024

_ANGLE_ID = re.compile(r"<([^<>]*)>")
_FOLD = re.compile(r"\r?\n|\r")
_MAILBOX = re.compile(
    r"""\s*(?:
        (?:"([^"\\]*)"|([^",<>()@;:\\\[\]]*?))\s*<([^<>\s"(),;:\\]+)>  # [name] <addr>
        |([^<>\s"(),;:\\]+)                                          # bare addr
    )?\s*(?:,|\Z)""",
    re.X,
)
_ADDRESS_HEADERS = ("sender", "from", "to", "cc", "bcc", "reply-to")
_ATTRIBUTE = {"from": "from_", "reply-to": "reply_to"}  # header name -> ParsedMessage field
_WANTED = frozenset(("subject", "message-id", "date", "in-reply-to", "references"))
_WANTED |= frozenset(_ADDRESS_HEADERS)
#: Fields not kept for sorting: transport traces and signatures, long and never sorted by.
_TRACE_HEADERS = frozenset((
    "received", "x-received", "dkim-signature", "domainkey-signature", "authentication-results",
    "received-spf", "x-google-smtp-source", "x-gm-message-state", "x-google-dkim-signature",
    "arc-seal", "arc-message-signature", "arc-authentication-results", "mime-version",
    "x-ms-exchange-crosstenant-id", "content-transfer-encoding", "x-forwarded-encrypted",
    "x-original-dkim-signature",
))  # fmt: skip
_TRACE_PREFIXES = ("x-ms-exchange-crosstenant-", "x-ms-traffictypediagnostic", "x-ms-office365")
MAX_KEPT_HEADERS = 40
MAX_KEPT_HEADER_CHARS = 300


def parse_message(
    raw: bytes, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
) -> ParsedMessage:
    """Parse one message; never raises, whatever ``raw`` holds.

    ``parse_level`` says how far it got: ``"full"``, ``"headers"`` (the body could not be
    parsed or walked) or ``"raw"`` (no header could be read, e.g. empty input or binary junk).
    Attachment payloads larger than ``max_attachment_bytes`` keep their size and hash but not
    their data.
    """
    defects: Defects = {}
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
        _extract_headers(_header_map(msg, result.headers, defects), result, defects)
        result.parse_level = "headers"
        if whole:
            _extract_body(msg, result, defects, max_attachment_bytes)
            result.parse_level = "full"
    except Exception as exc:
        defects[f"parse_error:{type(exc).__name__}"] = None
    return _finish(result, defects)


def _parse(data: bytes, defects: Defects) -> tuple[Message | None, bool]:
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


def _finish(result: ParsedMessage, defects: Defects) -> ParsedMessage:
    result.defects = list(defects)
    return result


# --- parser policy and raw header text ---------------------------------------------------


class _Policy(Compat32):
    """compat32, but header values with raw 8-bit bytes come back as decoded ``str``.

    Plain compat32 wraps them in ``Header(charset="unknown-8bit")``, which ``get_filename``
    and friends then turn into U+FFFD; decoding here keeps ``résumé.pdf`` intact.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        return undo_surrogates(value) if isinstance(value, str) else value


_POLICY = _Policy()
_GENERATOR_POLICY = _Policy(max_line_length=0)  # re-serialise forwarded mail without refolding


def _header_text(value: object, defects: Defects) -> str:
    """A raw header value, unfolded, with 8-bit bytes decoded."""
    return undo_surrogates(_FOLD.sub("", value if isinstance(value, str) else str(value)), defects)


# --- headers -----------------------------------------------------------------------------


def _header_map(msg: Message, kept: dict[str, str], defects: Defects) -> dict[str, list[str]]:
    """The header fields this module reads, by lower-cased name, as raw values (one pass).

    On the way, ``kept`` gets the first value of every other field that is not a trace or a
    signature (what sorting rules and signals look at), unfolded and cut to a bounded size.
    """
    headers: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        key = name.lower()
        if key in _WANTED:
            headers.setdefault(key, []).append(value if isinstance(value, str) else "")
        elif (
            key not in kept
            and len(kept) < MAX_KEPT_HEADERS
            and key not in _TRACE_HEADERS
            and not key.startswith(_TRACE_PREFIXES)
        ):
            kept[key] = _header_text(value, defects)[:MAX_KEPT_HEADER_CHARS]
    return headers


def _unstructured(value: str, defects: Defects) -> str:
    return clean(" ".join(decode_words(_header_text(value, defects), defects).split()))


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


def _addresses(values: list[str], defects: Defects) -> list[Address]:
    """Split on the *encoded* text (a decoded name may hold commas), then decode names."""
    found: list[Address] = []
    for value in values:
        try:
            pairs = _address_pairs(_header_text(value, defects))
        except Exception:
            defects["bad_address"] = None
            continue
        for name, email in pairs:
            email = clean("".join(email.split()).lower())
            if email:
                name = clean(" ".join(decode_words(name, defects).split()))
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


def _parse_date(value: str, defects: Defects) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:  # "-0000": UTC with the source zone unknown (RFC 5322)
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except Exception:
        defects["bad_date"] = None
        return None


def _extract_headers(
    headers: dict[str, list[str]], result: ParsedMessage, defects: Defects
) -> None:
    """Fill the header fields of ``result``; each field is independent of the others."""
    if "subject" in headers:
        result.subject = _unstructured(headers["subject"][0], defects)
    raw_id = _header_text(headers.get("message-id", [""])[0], defects)
    result.message_id = clean(_message_id(raw_id) or "") or None
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
        result.in_reply_to = clean(replied[0]) if replied else None
    if "references" in headers:
        text = " ".join(_header_text(value, defects) for value in headers["references"])
        result.references = list(dict.fromkeys(clean(ref) for ref in _msg_ids(text)))


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


def _filename(part: Message, raw_fields: str, defects: Defects) -> str | None:
    """The part's file name (RFC 2231 or 2047 encoded or plain), only looked up if plausible."""
    if "name" not in raw_fields:  # get_filename parses two headers' parameters: skip it
        return None
    filename = part.get_filename()
    if filename is None:
        return None
    return clean(" ".join(decode_words(filename, defects).split())) or None


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
    defects: Defects,
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
        content_id=clean(cid) if cid else None,
    )


def _extract_body(msg: Message, result: ParsedMessage, defects: Defects, cap: int) -> None:
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
                    text = decode(_decoded(part), charset, defects)
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
    result.body_text = clean(body)
