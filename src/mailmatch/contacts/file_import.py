"""Importing a contacts file, from the command line or uploaded through the web app or API.

The kind of file is told by its name, as the CLI always did: ``.csv``/``.txt`` go to the CSV
reader (Salesforce, HubSpot, Google, Outlook or hand-made), ``.vcf``/``.vcard`` to the vCard
reader. An upload is written to a private temporary folder under its own name and read by the
same readers, so the CLI, the page and the API give the same report.
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePath
from typing import Any

from mailmatch.contacts.bulk import RecordImporter
from mailmatch.contacts.csv_import import read_csv
from mailmatch.contacts.records import ImportedRecords
from mailmatch.contacts.vcard import read_vcard_file
from mailmatch.errors import InvalidInput, MailmatchError

CSV_SUFFIXES = (".csv", ".txt")
VCARD_SUFFIXES = (".vcf", ".vcard")
ACCEPTED = ",".join(CSV_SUFFIXES + VCARD_SUFFIXES)  # for an <input type=file accept=...>


def read_contacts_file(path: Path) -> ImportedRecords:
    """Read a CSV export or a vCard file, by its suffix; nothing is stored yet."""
    suffix = path.suffix.lower()
    if suffix in VCARD_SUFFIXES:
        return read_vcard_file(path)
    if suffix in CSV_SUFFIXES:
        return read_csv(path)
    raise InvalidInput(
        f"{path.name}: expected a .csv or .vcf file",
        advice=["Export the contacts as CSV (any CRM or address book) or as vCard (.vcf)."],
    )


def _upload_name(filename: str) -> str:
    """The file's own name without any folder a client sent, never empty or hidden."""
    name = PurePath(filename.replace("\\", "/")).name.strip().lstrip(".")
    return name[:200] or "upload"


def import_upload(importer: RecordImporter, filename: str, data: bytes) -> dict[str, Any]:
    """Import an uploaded file; the summary is the one ``contacts import --json`` prints, with
    ``file`` (its name). Errors name the file as uploaded, not the temporary copy."""
    name = _upload_name(filename)
    with tempfile.TemporaryDirectory(prefix="mailmatch-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            records = read_contacts_file(path)
        except MailmatchError as exc:
            exc.message = exc.message.replace(str(path), name)
            exc.args = (exc.message,)
            raise
    return {"file": name, **importer.import_records(records)}
