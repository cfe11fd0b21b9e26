"""What every contacts importer hands back: plain data, and the clean-up they all share.

The importers only *read*; storing, merging with existing contacts and matching are the job of
other layers. So the records are plain dataclasses (no ORM objects, no database ids) and every
importer says what it did with its input (``used_columns``, ``ignored_columns``, ``skipped``)
so the user can see why a contact is missing instead of guessing.

The normalisation helpers live here, next to the fields whose invariants they keep, because CSV,
vCard and CardDAV must agree exactly on what a valid address or a company domain is.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "CompanyRecord",
    "ContactRecord",
    "ImportedRecords",
    "decode_text",
    "domain_from_website",
    "normalize_emails",
    "split_multi",
]


@dataclass
class ContactRecord:
    """One person as the source described them."""

    name: str  # display name ("" if none)
    emails: list[str]  # lower-cased, de-duplicated, loosely validated: see normalize_emails
    company: str | None = None
    title: str | None = None
    phones: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    owner: str | None = None
    custom: dict[str, str] = field(default_factory=dict)  # leftover columns / X- properties
    source_id: str | None = None  # vCard UID / CardDAV href, for re-sync


@dataclass
class CompanyRecord:
    """A company named by the source, with the domains the source gave for it (maybe none)."""

    name: str
    domains: list[str] = field(default_factory=list)


@dataclass
class ImportedRecords:
    """Everything one import read, and an account of what it left out and why."""

    contacts: list[ContactRecord]
    companies: list[CompanyRecord]
    used_columns: dict[str, str]  # source column -> what it was used as ("email", "name", ...)
    ignored_columns: list[str]
    skipped: list[tuple[str, str]]  # (row/card identifier, reason), e.g. ("row 7", "no email")
    source: str  # "csv:salesforce" | "csv:hubspot" | "csv:google" | "csv:outlook" | "csv" | ...
    # Lines (1 = the first line of the file) that were not UTF-8 and were read as Windows-1252:
    # a file pasted together from two tools can mix both, and the user should look at those.
    fallback_lines: list[int] = field(default_factory=list)


# --- shared normalisation -----------------------------------------------------------------------

# Several addresses in one cell: Google joins with " ::: ", Outlook and hand-made sheets with ";"
# or ",". Whitespace-only separation is not split on: it would cut "Jane Doe <jane@x.com>".
_MULTI_SEPARATORS = re.compile(r"\s*:::\s*|\s*[;,\n]\s*")
_MULTI_SEPARATORS_NO_COMMA = re.compile(r"\s*:::\s*|\s*[;\n]\s*")
_ANGLE = re.compile(r"<([^<>]+)>")


def split_multi(value: str, *, commas: bool = True) -> list[str]:
    """Split a cell holding several values (" ::: ", ";", "," or newlines); drop empty parts.

    ``commas=False`` keeps commas inside a value, for cells such as phone numbers or Google
    labels where a comma is part of the value rather than a separator.
    """
    pattern = _MULTI_SEPARATORS if commas else _MULTI_SEPARATORS_NO_COMMA
    return [part.strip() for part in pattern.split(value) if part.strip()]


def _clean_email(raw: str) -> str | None:
    """One address, lower-cased, or None when it is not plausibly an address.

    Loose on purpose: one ``@``, something before it, a dot inside the domain, no spaces. That
    rejects Exchange X.500 paths ("/o=ExchangeLabs/..."), which Outlook exports in place of
    addresses for colleagues, and typing slips, without refusing unusual but real addresses.
    """
    text = raw.strip()
    if match := _ANGLE.search(text):  # "Jane Doe <jane@example.com>"
        text = match.group(1).strip()
    if text.lower().startswith("mailto:"):  # vCard 4 and some CRMs store a URI
        text = text[len("mailto:") :]
    text = text.strip().strip("'\"").lower()
    local, at, domain = text.partition("@")
    if not at or not local or "@" in domain or any(c.isspace() for c in text):
        return None
    if "." not in domain.strip(".") or domain.startswith(".") or domain.endswith("."):
        return None
    return text


def normalize_emails(values: Iterable[str]) -> tuple[list[str], list[str]]:
    """Return (valid addresses lower-cased in first-seen order without repeats, rejected raw).

    Each value may itself hold several addresses (see :func:`split_multi`).
    """
    valid: list[str] = []
    rejected: list[str] = []
    for value in values:
        for part in split_multi(value):
            email = _clean_email(part)
            if email is None:
                rejected.append(part)
            elif email not in valid:
                valid.append(email)
    return valid, rejected


def domain_from_website(value: str) -> str | None:
    """The bare domain of a website or domain cell: "https://www.Acme.com/about" -> "acme.com".

    A leading ``www.`` is dropped because mail never comes from it; anything that does not look
    like a host name (no dot, spaces) gives None rather than a made-up domain.
    """
    text = value.strip().lower()
    if not text:
        return None
    if "@" in text and "/" not in text:  # someone put an address in the domain column
        text = text.rpartition("@")[2]
    if "://" not in text:
        text = "http://" + text
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        return None
    host = host.strip(".").removeprefix("www.")
    if "." not in host or ".." in host or any(c.isspace() or c in "/\\:@_" for c in host):
        return None
    return host


def decode_text(data: bytes) -> str:
    """Decode an export whose encoding nobody declared.

    Byte-order marks first (Google and Outlook write UTF-16 with a BOM; Excel adds a UTF-8 BOM),
    then BOM-less UTF-16 recognised by its NUL bytes, then UTF-8, and finally Windows-1252, the
    "ANSI" that Outlook and old Salesforce exports use on Western Windows machines. Never fails.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    sample = data[:4096]
    if sample and sample.count(0) > len(sample) // 4:
        even_nuls = sample[0::2].count(0)
        odd_nuls = sample[1::2].count(0)
        return data.decode("utf-16-be" if even_nuls > odd_nuls else "utf-16-le", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
