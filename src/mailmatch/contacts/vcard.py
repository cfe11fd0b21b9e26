"""Contacts from vCard files (2.1, 3.0 and 4.0), as exported by phones, Apple Contacts, Outlook
and Google, and as served by CardDAV.

Reading the lines is vobject's job (https://github.com/py-vobject/vobject): its tokenizer
unfolds folded lines, parses parameters (quoted values, 2.1's bare ``PREF;INTERNET``) and decodes
quoted-printable with its charset and ``=`` soft line breaks (``allowQP``), which 2.1 and some
3.0 exports use. Decoding the *values* of the few properties we keep is done here, because
vobject's vCard behaviours lose data on real files: a text value with an unescaped comma (2.1
never escapes them: ``NOTE:Customer since 2009, prefers email``) is cut at the comma, and an
undecodable base64 ``PHOTO`` (which we do not even import) fails the whole card. Unescaping
``\\n \\, \\; \\\\`` and splitting ``N``/``ORG``/``CATEGORIES`` is all 3.0 and 4.0 need; 4.0 only
adds parameters and value types (``PREF=1``, ``TEL;VALUE=uri:tel:...``) handled below.

One unreadable card must not lose the rest of a phone's export of 2,000, so the text is cut
into ``BEGIN:VCARD``..``END:VCARD`` blocks first and each is read on its own; a card with a line
that cannot be parsed, or that never ends, is skipped with the reason. Cards are numbered from 1
in file order ("card 3").

Contact groups (vCard 4 ``KIND:group`` + ``MEMBER``, Apple/iCloud's ``X-ADDRESSBOOKSERVER-KIND``)
are not people: their names become tags on their members. Organisation cards (``KIND:org``)
become companies, with the domains of their ``URL`` and ``EMAIL``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from vobject.base import ContentLine, getLogicalLines, textLineToContentLine

from mailmatch.contacts.records import (
    CompanyRecord,
    ContactRecord,
    ImportedRecords,
    decode_text,
    domain_from_website,
    normalize_emails,
)

__all__ = ["VCardItem", "read_vcard_file", "read_vcard_items", "read_vcards"]

# Properties kept in ``custom`` under a friendlier key.
_CUSTOM = {"NOTE": "note", "URL": "url", "BDAY": "birthday", "NICKNAME": "nickname", "ROLE": "role"}
# X- properties that are some program's bookkeeping, not facts about the person.
_X_NOISE = (
    "X-AB", "X-ADDRESSBOOKSERVER-", "X-ANDROID-", "X-MS-", "X-EVOLUTION-", "X-MOZILLA-",
    "X-RADICALE",
)  # fmt: skip
_MAX_CUSTOM = 1000  # characters: a longer X- value is a blob (a photo, a certificate), not a fact


class VCardItem(NamedTuple):
    """One card's text, how to name it in ``skipped``, and its ``source_id`` if not its UID."""

    ident: str
    text: str
    source_id: str | None = None


def read_vcard_file(path: Path | str) -> ImportedRecords:
    """Read every card of a ``.vcf`` file (any encoding :func:`decode_text` recognises)."""
    return read_vcards(Path(path).read_bytes())


def read_vcards(data: str | bytes, *, source: str = "vcard") -> ImportedRecords:
    """Read every card in ``data``; broken cards are listed in ``skipped``, never raised."""
    text = decode_text(data) if isinstance(data, bytes) else data
    items, broken = _split_cards(text)
    result = read_vcard_items(items, source=source)
    result.skipped[:0] = broken
    result.skipped.sort(key=lambda skip: _card_number(skip[0]))
    if not items and not broken:
        result.skipped.append(("input", "no BEGIN:VCARD found: not a vCard file"))
    return result


def read_vcard_items(items: Iterable[VCardItem], *, source: str) -> ImportedRecords:
    """Turn cards that are already one per item (CardDAV resources) into records."""
    result = ImportedRecords(
        contacts=[], companies=[], used_columns={}, ignored_columns=[], skipped=[], source=source
    )
    companies: dict[str, CompanyRecord] = {}
    groups: list[tuple[str, list[str]]] = []  # (group name, member UIDs)
    uids: dict[str, ContactRecord] = {}
    for item in items:
        try:
            card = _Card(item.text)
        except Exception as exc:  # bad lines, unknown charsets, bad QP: one card, not all
            result.skipped.append((item.ident, f"unreadable vCard: {_first_line(exc)}"))
            continue
        kind = (card.text("KIND") or card.text("X-ADDRESSBOOKSERVER-KIND") or "").lower()
        name = _name(card)
        if kind == "group":
            members = card.texts("MEMBER") + card.texts("X-ADDRESSBOOKSERVER-MEMBER")
            groups.append((name, [_bare_uid(m) for m in members]))
            result.skipped.append((item.ident, f"contact group {name!r}: used as a tag"))
            continue
        emails, rejected = normalize_emails(_emails(card))
        if kind == "org":
            company = _company(card) or name
            domains = _unique(domain_from_website(u) for u in card.texts("URL"))
            domains += _unique(e.rpartition("@")[2] for e in emails)
            _add_company(companies, company, _unique(domains))
            continue
        if not emails:
            who = f"{name}: " if name else ""
            why = f"no valid email address (got {', '.join(rejected)})" if rejected else ""
            result.skipped.append((item.ident, who + (why or "no email address")))
            continue
        contact = _contact(card, name, emails)
        contact.source_id = item.source_id or contact.source_id
        if contact.company:
            contact.company = _add_company(companies, contact.company, [])
        uid = card.text("UID")
        if uid:
            uids[_bare_uid(uid)] = contact
        result.contacts.append(contact)
    for group, members in groups:
        for member in members:
            if (tagged := uids.get(member)) and group and group not in tagged.tags:
                tagged.tags.append(group)
    result.companies = list(companies.values())
    return result


def _split_cards(text: str) -> tuple[list[VCardItem], list[tuple[str, str]]]:
    """Cut the text into one block per card; blocks that never end are reported, not parsed.

    A ``BEGIN:VCARD`` inside a card starts the next card, except right after a bare ``AGENT:``
    line, where vCard 2.1 embeds another card.
    """
    items: list[VCardItem] = []
    broken: list[tuple[str, str]] = []
    current: list[str] | None = None
    depth = number = 0
    for line in text.splitlines():
        marker = line.strip().upper()
        if current is None:
            if marker == "BEGIN:VCARD":
                number += 1
                current, depth = [line], 0
            continue
        if marker == "BEGIN:VCARD":
            if current[-1].strip().upper().endswith("AGENT:"):
                depth += 1
            else:
                broken.append((f"card {number}", "card never ends (no END:VCARD)"))
                number += 1
                current, depth = [line], 0
                continue
        current.append(line)
        if marker == "END:VCARD":
            if depth:
                depth -= 1
            else:
                items.append(VCardItem(f"card {number}", "\r\n".join(current) + "\r\n"))
                current = None
    if current is not None:
        broken.append((f"card {number}", "card never ends (no END:VCARD)"))
    return items, broken


class _Card:
    """The content lines of one card by upper-case property name; nested cards left out."""

    def __init__(self, text: str) -> None:
        self.lines: dict[str, list[ContentLine]] = {}
        depth = 0
        for raw, number in getLogicalLines(io.StringIO(text), allowQP=True):
            line = textLineToContentLine(raw, number)
            name = line.name.upper()
            if name in ("BEGIN", "END"):
                depth += 1 if name == "BEGIN" else -1
            elif depth == 1:
                self.lines.setdefault(name, []).append(line)

    def texts(self, prop: str) -> list[str]:
        """Every non-empty text value of ``prop``, unescaped (base64 blobs are not text)."""
        return [
            text
            for line in self.lines.get(prop, [])
            if not _is_blob(line) and (text := _unescape(line.value).strip())
        ]

    def text(self, prop: str) -> str | None:
        values = self.texts(prop)
        return values[0] if values else None

    def parts(self, prop: str, separator: str = ";") -> list[str]:
        """The components of the first ``prop`` (N, ORG), unescaped and stripped."""
        lines = self.lines.get(prop, [])
        return [p.strip() for p in _split(lines[0].value, separator)] if lines else []


def _contact(card: _Card, name: str, emails: list[str]) -> ContactRecord:
    custom: dict[str, str] = {}
    org = card.parts("ORG")
    if len(org) > 1 and org[1]:
        custom["department"] = org[1]
    for prop, key in _CUSTOM.items():
        if value := card.text(prop):
            custom[key] = value
    for prop in card.lines:
        if prop.startswith("X-") and not prop.startswith(_X_NOISE):
            value = card.text(prop)
            if value and len(value) <= _MAX_CUSTOM:
                custom.setdefault(prop.lower(), value)
    tags = (tag for line in card.lines.get("CATEGORIES", []) for tag in _split(line.value, ","))
    return ContactRecord(
        name=name,
        emails=emails,
        company=_company(card),
        title=card.text("TITLE"),
        phones=_unique(p.removeprefix("tel:").strip() for p in card.texts("TEL")),
        tags=_unique(tag.strip() for tag in tags),
        custom=custom,
        source_id=card.text("UID"),
    )


def _name(card: _Card) -> str:
    """FN, or given, additional and family name from N, or "" (2.1 cards may lack FN)."""
    if fn := card.text("FN"):
        return fn
    n = card.parts("N") + [""] * 3
    words = (word for part in (n[1], n[2], n[0]) for word in part.split(","))
    return " ".join(word.strip() for word in words if word.strip())


def _emails(card: _Card) -> list[str]:
    """EMAIL values, preferred first (3.0 ``TYPE=pref``, 2.1 ``PREF``, 4.0 ``PREF=1..100``)."""
    ranked: list[tuple[int, str]] = []
    for line in card.lines.get("EMAIL", []):
        params = {str(k).upper(): [str(v).lower() for v in vs] for k, vs in line.params.items()}
        types = {t for value in params.get("TYPE", []) for t in value.split(",")}
        rank = 101
        if "pref" in types or "PREF" in {str(p).upper() for p in line.singletonparams}:
            rank = 1
        elif params.get("PREF", [""])[0].isdigit():
            rank = int(params["PREF"][0])
        ranked.append((rank, _unescape(line.value)))
    return [value for _, value in sorted(ranked, key=lambda pair: pair[0])]


def _company(card: _Card) -> str | None:
    org = card.parts("ORG")
    return org[0] if org and org[0] else None


def _is_blob(line: ContentLine) -> bool:
    """Base64 data (3.0 ``ENCODING=b``, 2.1 ``ENCODING=BASE64`` or a bare ``BASE64``)."""
    encodings = {str(e).upper() for e in line.params.get("ENCODING", [])}
    singles = {str(p).upper() for p in line.singletonparams}
    return bool({"B", "BASE64"} & (encodings | singles))


_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _unescape(value: str) -> str:
    """Undo vCard text escaping: ``\\n`` is a newline, ``\\x`` is ``x`` for anything else."""
    return _ESCAPED.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _split(value: str, separator: str) -> list[str]:
    """Split at the separators that are not escaped, then unescape each part."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            current.append(char + next(chars, ""))
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [_unescape(part) for part in parts]


def _bare_uid(uid: str) -> str:
    """Apple cards write UID "ABC"; groups refer to it as "urn:uuid:ABC"."""
    return uid.strip().removeprefix("urn:uuid:").lower()


def _add_company(companies: dict[str, CompanyRecord], name: str, domains: list[str]) -> str:
    """Record a company once per name (ignoring case); return the spelling first seen."""
    record = companies.setdefault(name.casefold(), CompanyRecord(name=name))
    for domain in domains:
        if domain not in record.domains:
            record.domains.append(domain)
    return record.name


def _unique(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _card_number(ident: str) -> int:
    number = ident.removeprefix("card ")
    return int(number) if number.isdigit() else 0
