"""Contacts and companies from the CSV files that CRMs and address books export.

Users bring whatever their tool wrote: Salesforce reports, HubSpot exports, Google Contacts (the
current "First Name / E-mail 1 - Value / Labels" layout and the older "Given Name / Group
Membership" one), Outlook, or a sheet typed by hand ("name, email, company, domain"). Rather than
asking which, the header row is matched against the column names those tools really write, the
flavour is reported in ``source``, and every column is accounted for in ``used_columns`` or
``ignored_columns`` so a user can see at once why, say, the phone numbers did not come across.

Why the care with bytes and delimiters: Google and Outlook write UTF-16, Excel adds a UTF-8 BOM
and writes ``;`` in locales whose decimal mark is a comma, and Outlook on Windows writes
Windows-1252. A file pasted together from two of them mixes UTF-8 and Windows-1252 lines, so
8-bit files are decoded line by line (UTF-8 first) and the lines that needed Windows-1252 are
reported; UTF-16 is left to :func:`~mailmatch.contacts.records.decode_text`. NUL bytes (a
truncated UTF-16 file, a C program's padding) are dropped: no database stores them in text.
:class:`csv.Sniffer` (checked against the header, where it is most reliable) finds the delimiter.

Rows are numbered as a spreadsheet shows them: the header is row 1. A row without a usable email
address is skipped with the reason, unless it only describes a company (then the company is kept).
A file with no email column but a domain or website column is a companies-only list.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from mailmatch.contacts.records import (
    CompanyRecord,
    ContactRecord,
    ImportedRecords,
    decode_text,
    domain_from_website,
    normalize_emails,
    split_multi,
)
from mailmatch.errors import InvalidInput

__all__ = ["decode_lines", "read_csv"]

# Roles a column can play. The order of the aliases inside one role is the order of preference
# when several columns fill the same single-valued role (HubSpot's "Associated Company" is the
# company record; its "Company Name" is free text the contact typed into a form).
_ALIASES: dict[str, tuple[str, ...]] = {
    role: tuple(alias.strip() for alias in aliases.split("|"))
    for role, aliases in {
        "email": "email | e-mail | email address | e-mail address | mail | emails | work email"
        " | personal email | primary email | secondary email | other email | email 2"
        " | e-mail 2 address | e-mail 3 address | additional email addresses",
        "name": "name | full name | display name | contact name",
        "first_name": "first name | firstname | given name | first",
        "middle_name": "middle name | middlename | additional name",
        "last_name": "last name | lastname | family name | surname | last",
        "company": "associated company | account name | account.name | company | company name"
        " | organization name | organization 1 - name | organization | organisation | employer",
        "title": "title | job title | organization title | organization 1 - title | position",
        "phone": "phone | phone number | mobile | mobile phone | mobile phone number"
        " | mobilephone | business phone | business phone 2 | home phone | home phone 2"
        " | other phone | primary phone | company main phone | work phone | telephone",
        "tags": "tags | tag | labels | group membership | categories | groups",
        "owner": "contact owner | lead owner | owner | owner name | hubspot owner",
        "company_domain": "domain | company domain | company domain name | email domain",
        "company_website": "website | website url | company website | web page | web site | url",
        "source_id": "record id | contact id | lead id | id",
        "custom": "notes | note | description | department | organization department"
        " | organization 1 - department | lead source | lead status | lifecycle stage | industry"
        " | city | country | country/region | mailing city | mailing country | linkedin"
        " | linkedin url | nickname | birthday | rating",
    }.items()
}
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"e-?mail \d+ - value|e-?mail \d+ address|e-?mail \d+"), "email"),
    (re.compile(r"phone \d+ - value"), "phone"),
)
_ROLE_OF: dict[str, str] = {alias: role for role, aliases in _ALIASES.items() for alias in aliases}
_RANK: dict[str, int] = {
    alias: rank for aliases in _ALIASES.values() for rank, alias in enumerate(aliases)
}

# Header names that only one tool writes. "Contact Owner" is not here: Salesforce writes it and
# HubSpot writes "Contact owner", which compare equal once case is ignored.
_MARKERS: dict[str, frozenset[str]] = {
    tool: frozenset(name.strip() for name in names.split("|"))
    for tool, names in {
        "salesforce": "account name | lead owner | contact id | lead id | account id | salutation"
        " | mailing street | mailing city | mailing country | lead source | firstname | lastname"
        " | accountid | ownerid | account owner | created date",
        "hubspot": "record id | associated company | lifecycle stage | company domain name"
        " | email domain | hubspot owner | create date | last activity date"
        " | mobile phone number | website url | associated company ids",
        "google": "given name | family name | additional name | group membership"
        " | organization name | organization title | organization 1 - name"
        " | organization 1 - title | name prefix | file as | phonetic first name"
        " | e-mail 1 - value | e-mail 1 - type | e-mail 1 - label | phone 1 - value",
        "outlook": "e-mail address | e-mail 2 address | e-mail 3 address | e-mail display name"
        " | e-mail type | business phone | home phone | business street | home street"
        " | given yomi | surname yomi",
    }.items()
}
# Outlook's "Title" is the honorific ("Mr."); its job title is "Job Title".
_FLAVOUR_OVERRIDES: dict[str, dict[str, str | None]] = {"outlook": {"title": None}}
# In a companies-only file the name columns name the company (and only company columns count).
_COMPANY_FILE_ROLES = {"name": "company", "company_website": "company_domain"}
# Google's system groups: every contact is in "My Contacts", so it says nothing.
_GOOGLE_NOISE_TAGS = frozenset({"* mycontacts", "* my contacts"})


class _Column(NamedTuple):
    position: int
    name: str  # as written in the header
    role: str
    rank: int  # preference among the columns of the same role: lower wins


def read_csv(path: Path) -> ImportedRecords:
    """Read contacts (and the companies they name) from a CSV export.

    Raises :class:`~mailmatch.errors.InvalidInput` when the file is empty or has neither an
    email column nor a company domain/website column, because then it is no contacts export.
    """
    text, fallback_lines = decode_lines(Path(path).read_bytes())
    rows = _rows(text)
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InvalidInput(f"{path} is empty", advice=["Export the contacts again as CSV."])
    header = [cell.strip() for cell in rows[0]]
    flavour = _flavour([_key(cell) for cell in header])
    columns = _columns(header, flavour)
    roles = {column.role for column in columns}
    companies_only = "email" not in roles
    if companies_only:
        if not {"company_domain", "company_website"} & roles:
            raise InvalidInput(
                f"{path} has no email column and no company domain/website column "
                f"(columns: {', '.join(cell for cell in header if cell)})",
                advice=[
                    "Export contacts with their email addresses, or a company list with a "
                    "domain or website column.",
                    'A hand-made file needs a header row such as "name,email,company,domain".',
                ],
            )
        columns = [c._replace(role=_COMPANY_FILE_ROLES.get(c.role, c.role)) for c in columns]
        columns = [c for c in columns if c.role in ("company", "company_domain")]
    used = {column.position for column in columns}
    result = ImportedRecords(
        contacts=[],
        companies=[],
        used_columns={column.name: column.role for column in sorted(columns)},
        ignored_columns=[cell for i, cell in enumerate(header) if i not in used and cell],
        skipped=[],
        source=f"csv:{flavour}" if flavour else "csv",
        fallback_lines=fallback_lines,
    )
    columns.sort(key=lambda column: column.rank)
    companies: dict[str, CompanyRecord] = {}
    for number, row in enumerate(rows[1:], start=2):
        if any(cell.strip() for cell in row):
            _read_row(row, columns, flavour, companies_only, f"row {number}", result, companies)
    result.companies = list(companies.values())
    return result


def decode_lines(data: bytes) -> tuple[str, list[int]]:
    """The text of the file, and the numbers of the lines that were not UTF-8.

    Each line of an 8-bit file is tried as UTF-8, then read as Windows-1252: deciding for the
    whole file turned "José" in the UTF-8 half into "JosÃ©". A UTF-8 character never spans a
    line break (both line-break bytes are ASCII), so deciding per line loses nothing.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(data):
        return decode_text(data).replace("\x00", ""), []
    data = data.removeprefix(codecs.BOM_UTF8).replace(b"\x00", b"")
    parts: list[str] = []
    fallback: list[int] = []
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        try:
            parts.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            parts.append(line.decode("cp1252", errors="replace"))
            fallback.append(number)
    return "".join(parts), fallback


def _looks_utf16(data: bytes) -> bool:
    """BOM-less UTF-16, as :func:`decode_text` recognises it: a NUL in every other byte."""
    sample = data[:4096]
    return bool(sample) and sample.count(0) > len(sample) // 4


def _rows(text: str) -> list[list[str]]:
    """All records of the file, with the delimiter found from the header line."""
    lines = text.splitlines()
    delimiter: str | None = None
    if lines and (hint := re.fullmatch(r'"?sep=(.)"?', lines[0].strip())):  # Excel's hint line
        delimiter = hint.group(1)
        text = text.split("\n", 1)[1] if "\n" in text else ""
        lines = lines[1:]
    if delimiter is None:
        delimiter = _delimiter(lines[0] if lines else "", "\n".join(lines[:20]))
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _delimiter(header: str, sample: str) -> str:
    """The Sniffer's answer if it splits the header into columns, else the most frequent one."""
    try:
        found = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        found = None
    if found and len(next(csv.reader([header], delimiter=found), [])) > 1:
        return found
    return max(",;\t", key=header.count)


def _key(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").strip().strip('"').casefold().split())


def _flavour(keys: list[str]) -> str | None:
    """The tool that wrote this header, by the most names only that tool uses; None if unsure."""
    scores = {name: len(set(keys) & markers) for name, markers in _MARKERS.items()}
    best = max(scores.values())
    winners = [name for name, score in scores.items() if score == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


def _columns(header: list[str], flavour: str | None) -> list[_Column]:
    """The columns that have a role, in header order."""
    overrides = _FLAVOUR_OVERRIDES.get(flavour or "", {})
    columns: list[_Column] = []
    for index, name in enumerate(header):
        key = _key(name)
        if key in overrides:
            role = overrides[key]
        else:
            role = _ROLE_OF.get(key)
            if role is None:
                role = next((r for pattern, r in _PATTERNS if pattern.fullmatch(key)), None)
        if role is not None:
            columns.append(_Column(index, name, role, _RANK.get(key, len(_RANK))))
    return columns


def _read_row(
    row: list[str],
    columns: list[_Column],
    flavour: str | None,
    companies_only: bool,
    where: str,
    result: ImportedRecords,
    companies: dict[str, CompanyRecord],
) -> None:
    """Turn one row into a contact and/or a company, or a skip with its reason."""
    values: dict[str, list[str]] = {}  # role -> non-empty cells, most preferred column first
    custom: dict[str, str] = {}
    for column in columns:
        value = row[column.position].strip() if column.position < len(row) else ""
        if value and column.role == "custom":
            custom[column.name] = value
        elif value:
            values.setdefault(column.role, []).append(value)

    def first(role: str) -> str | None:
        return values[role][0] if role in values else None

    company = first("company")
    if company:
        domains = [
            domain
            for value in values.get("company_domain", []) + values.get("company_website", [])
            for part in split_multi(value)
            if (domain := domain_from_website(part))
        ]
        company = _add_company(companies, company, domains)
    elif companies_only:
        result.skipped.append((where, "no company name"))
    if companies_only:
        return

    name = first("name") or " ".join(
        part for part in (first("first_name"), first("middle_name"), first("last_name")) if part
    )
    emails, rejected = normalize_emails(values.get("email", []))
    if not emails:
        if rejected:
            result.skipped.append((where, f"no valid email address (got {', '.join(rejected)})"))
        elif name and company:
            result.skipped.append((where, f"no email address (company {company!r} was kept)"))
        elif not company:
            result.skipped.append((where, "no email address"))
        return
    phones = (p for v in values.get("phone", []) for p in split_multi(v, commas=False))
    result.contacts.append(
        ContactRecord(
            name=name,
            emails=emails,
            company=company,
            title=first("title"),
            phones=_unique(phones),
            tags=_tags(values.get("tags", []), google=flavour == "google"),
            owner=first("owner"),
            custom=custom,
            source_id=first("source_id"),
        )
    )


def _add_company(companies: dict[str, CompanyRecord], name: str, domains: list[str]) -> str:
    """Record a company once per name (ignoring case), gathering its domains from every row.

    Returns the spelling first seen, so "ACME" and "Acme" rows name one company downstream.
    """
    record = companies.setdefault(name.casefold(), CompanyRecord(name=name))
    for domain in domains:
        if domain not in record.domains:
            record.domains.append(domain)
    return record.name


def _tags(values: list[str], *, google: bool) -> list[str]:
    """Tags from label/category cells. Google joins with " ::: " and marks system groups "* "."""
    tags: list[str] = []
    for value in values:
        parts = split_multi(value, commas=False) if ":::" in value else split_multi(value)
        for part in parts:
            if google:
                if part.casefold() in _GOOGLE_NOISE_TAGS:
                    continue
                part = part.removeprefix("* ")
            tags.append(part)
    return _unique(tags)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))
