"""Contacts and companies from the CSV files that CRMs and address books export.

Users bring whatever their tool wrote: Salesforce reports, HubSpot exports, Google Contacts (the
current "First Name / E-mail 1 - Value / Labels" layout and the older "Given Name / Group
Membership" one), Outlook, or a sheet typed by hand ("name, email, company, domain"). Rather than
asking which, the header row is matched against the column names those tools really write, the
flavour is reported in ``source``, and every column is accounted for in ``used_columns`` or
``ignored_columns`` so a user can see at once why, say, the phone numbers did not come across.

Why the care with bytes and delimiters: Google and Outlook write UTF-16, Excel adds a UTF-8 BOM
and writes ``;`` in locales whose decimal mark is a comma, and Outlook on Windows writes
Windows-1252. :func:`~mailmatch.contacts.records.decode_text` and :class:`csv.Sniffer` (checked
against the header, where it is most reliable) take care of that.

Rows are numbered as a spreadsheet shows them: the header is row 1. A row without a usable email
address is skipped with the reason, unless it only describes a company (then the company is kept).
A file with no email column but a domain or website column is a companies-only list.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path

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

__all__ = ["read_csv"]

# Roles a column can play. The order of the aliases inside one role is the order of preference
# when several columns fill the same single-valued role (HubSpot's "Associated Company" is the
# company record; its "Company Name" is free text the contact typed into a form).
_ALIASES: dict[str, tuple[str, ...]] = {
    "email": (
        "email", "e-mail", "email address", "e-mail address", "mail", "emails", "work email",
        "personal email", "primary email", "secondary email", "other email", "email 2",
        "e-mail 2 address", "e-mail 3 address", "additional email addresses",
    ),
    "name": ("name", "full name", "display name", "contact name"),
    "first_name": ("first name", "firstname", "given name", "first"),
    "middle_name": ("middle name", "middlename", "additional name"),
    "last_name": ("last name", "lastname", "family name", "surname", "last"),
    "company": (
        "associated company", "account name", "account.name", "company", "company name",
        "organization name", "organization 1 - name", "organization", "organisation", "employer",
    ),
    "title": (
        "title", "job title", "organization title", "organization 1 - title", "position",
    ),
    "phone": (
        "phone", "phone number", "mobile", "mobile phone", "mobile phone number", "mobilephone",
        "business phone", "business phone 2", "home phone", "home phone 2", "other phone",
        "primary phone", "company main phone", "work phone", "telephone",
    ),
    "tags": ("tags", "tag", "labels", "group membership", "categories", "groups"),
    "owner": ("contact owner", "lead owner", "owner", "owner name", "hubspot owner"),
    "company_domain": ("domain", "company domain", "company domain name", "email domain"),
    "company_website": (
        "website", "website url", "company website", "web page", "web site", "url",
    ),
    "source_id": ("record id", "contact id", "lead id", "id"),
    "custom": (
        "notes", "note", "description", "department", "lead source", "lead status",
        "lifecycle stage", "industry", "city", "country", "country/region", "mailing city",
        "mailing country", "linkedin", "linkedin url", "nickname", "birthday", "rating",
    ),
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
    "salesforce": frozenset({
        "account name", "lead owner", "contact id", "lead id", "account id", "salutation",
        "mailing street", "mailing city", "mailing country", "lead source", "firstname",
        "lastname", "accountid", "ownerid", "account owner", "created date",
    }),
    "hubspot": frozenset({
        "record id", "associated company", "lifecycle stage", "company domain name",
        "email domain", "hubspot owner", "create date", "last activity date",
        "mobile phone number", "website url", "associated company ids",
    }),
    "google": frozenset({
        "given name", "family name", "additional name", "group membership", "labels",
        "organization name", "organization title", "organization 1 - name",
        "organization 1 - title", "name prefix", "file as", "phonetic first name",
        "e-mail 1 - value", "e-mail 1 - type", "e-mail 1 - label", "phone 1 - value",
    }),
    "outlook": frozenset({
        "e-mail address", "e-mail 2 address", "e-mail 3 address", "e-mail display name",
        "e-mail type", "business phone", "home phone", "business street", "home street",
        "given yomi", "surname yomi", "categories",
    }),
}
# Outlook's "Title" is the honorific ("Mr."); its job title is "Job Title".
_FLAVOUR_OVERRIDES: dict[str, dict[str, str | None]] = {"outlook": {"title": None}}
# In a companies-only file the name columns name the company.
_COMPANY_FILE_ROLES = {"name": "company", "company_website": "company_domain"}
# Google's system groups: every contact is in "My Contacts", so it says nothing.
_GOOGLE_NOISE_TAGS = frozenset({"* mycontacts", "* my contacts"})


def read_csv(path: Path) -> ImportedRecords:
    """Read contacts (and the companies they name) from a CSV export.

    Raises :class:`~mailmatch.errors.InvalidInput` when the file is empty or has neither an
    email column nor a company column, because then it is not a contacts export at all.
    """
    text = decode_text(Path(path).read_bytes())
    rows = _rows(text)
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InvalidInput(f"{path} is empty", advice=["Export the contacts again as CSV."])
    header = [_key(cell) for cell in rows[0]]
    flavour = _flavour(header)
    roles = _roles(header, flavour)
    if "email" not in roles.values():
        if not {"company_domain", "company_website"} & set(roles.values()):
            shown = ", ".join(cell for cell in rows[0] if cell.strip())
            raise InvalidInput(
                f"{path} has no email column and no company domain/website column "
                f"(columns: {shown})",
                advice=[
                    "Export contacts with their email addresses, or a company list with a "
                    "domain or website column.",
                    'A hand-made file needs a header row such as "name,email,company,domain".',
                ],
            )
        roles = {i: _COMPANY_FILE_ROLES.get(role, role) for i, role in roles.items()}
    result = ImportedRecords(
        contacts=[],
        companies=[],
        used_columns={rows[0][i].strip(): role for i, role in sorted(roles.items())},
        ignored_columns=[
            cell.strip() for i, cell in enumerate(rows[0]) if i not in roles and cell.strip()
        ],
        skipped=[],
        source=f"csv:{flavour}" if flavour else "csv",
    )
    companies: dict[str, CompanyRecord] = {}
    for number, row in enumerate(rows[1:], start=2):
        if any(cell.strip() for cell in row):
            _read_row(row, rows[0], roles, flavour, f"row {number}", result, companies)
    result.companies = list(companies.values())
    return result


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
    return list(csv.reader(text.splitlines(keepends=True), delimiter=delimiter))


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


def _flavour(header: list[str]) -> str | None:
    """The tool that wrote this header, by the most names only that tool uses; None if unsure."""
    keys = set(header)
    scores = {name: len(keys & markers) for name, markers in _MARKERS.items()}
    best = max(scores.values())
    winners = [name for name, score in scores.items() if score == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


def _roles(header: list[str], flavour: str | None) -> dict[int, str]:
    """Column index -> role, for the columns that have one."""
    overrides = _FLAVOUR_OVERRIDES.get(flavour or "", {})
    roles: dict[int, str] = {}
    for index, key in enumerate(header):
        if key in overrides:
            role = overrides[key]
        else:
            role = _ROLE_OF.get(key)
            if role is None:
                role = next((r for pattern, r in _PATTERNS if pattern.fullmatch(key)), None)
        if role is not None:
            roles[index] = role
    return roles


def _read_row(
    row: list[str],
    header: list[str],
    roles: dict[int, str],
    flavour: str | None,
    where: str,
    result: ImportedRecords,
    companies: dict[str, CompanyRecord],
) -> None:
    """Turn one row into a contact and/or a company, or a skip with its reason."""
    cells: dict[str, list[tuple[int, str]]] = {}
    custom: dict[str, str] = {}
    for index, role in roles.items():
        value = row[index].strip() if index < len(row) else ""
        if not value:
            continue
        if role == "custom":
            custom[header[index].strip()] = value
        else:
            rank = _RANK.get(_key(header[index]), len(_RANK))
            cells.setdefault(role, []).append((rank, value))

    def first(role: str) -> str | None:
        found = sorted(cells.get(role, []), key=lambda pair: pair[0])
        return found[0][1] if found else None

    def every(role: str) -> list[str]:
        return [value for _, value in cells.get(role, [])]

    company = first("company")
    if company:
        domains = [d for v in every("company_domain") for p in split_multi(v) if (d := _dom(p))]
        domains += [d for v in every("company_website") if (d := domain_from_website(v))]
        _add_company(companies, company, domains)

    name = first("name") or " ".join(
        part for part in (first("first_name"), first("middle_name"), first("last_name")) if part
    )
    emails, rejected = normalize_emails(every("email"))
    if not emails:
        if rejected:
            result.skipped.append((where, f"no valid email address (got {', '.join(rejected)})"))
        elif name and company:
            result.skipped.append((where, f"no email address (company {company!r} was kept)"))
        elif not company:
            result.skipped.append((where, "no email address"))
        return
    result.contacts.append(
        ContactRecord(
            name=name,
            emails=emails,
            company=company,
            title=first("title"),
            phones=_unique(p for v in every("phone") for p in split_multi(v, commas=False)),
            tags=_tags(every("tags"), google=flavour == "google"),
            owner=first("owner"),
            custom=custom,
            source_id=first("source_id"),
        )
    )


def _dom(value: str) -> str | None:
    return domain_from_website(value)


def _add_company(companies: dict[str, CompanyRecord], name: str, domains: list[str]) -> None:
    """Record a company once per name (ignoring case), gathering its domains from every row."""
    record = companies.setdefault(name.casefold(), CompanyRecord(name=name))
    for domain in domains:
        if domain not in record.domains:
            record.domains.append(domain)


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
