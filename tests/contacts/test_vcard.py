"""Reading vCard files: 3.0 and 4.0 as written today, 2.1 from old phones, and broken ones."""

from __future__ import annotations

import codecs
from pathlib import Path

from mailmatch.contacts.records import CompanyRecord, ContactRecord
from mailmatch.contacts.vcard import read_vcard_file, read_vcards

# What Apple Contacts exports: CRLF, lines folded at 75 octets, grouped EMAIL with a label,
# a folded base64 photo and Apple bookkeeping properties.
APPLE_3_0 = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "PRODID:-//Apple Inc.//macOS 14.5//EN\r\n"
    "N:Doe;Jane;Q.;;\r\n"
    "FN:Jane Doe\r\n"
    "ORG:Acme Corporation International Holdings;Strategic Partnerships and Busin\r\n"
    " ess Development\r\n"
    "TITLE:Head of Sales\r\n"
    "EMAIL;type=INTERNET;type=HOME:jane@home.example\r\n"
    "item1.EMAIL;type=INTERNET;type=pref:Jane.Doe@ACME.example\r\n"
    "item1.X-ABLabel:_$!<Other>!$_\r\n"
    "EMAIL;type=INTERNET;type=WORK:jane.doe@acme.example\r\n"
    "TEL;type=CELL;type=VOICE;type=pref:+1 (415) 555-0100\r\n"
    "NOTE:Met at the Berlin trade fair\\; prefers email\\, not calls.\\nFollow up in Q\r\n"
    " 3.\r\n"
    "X-SOCIALPROFILE;type=linkedin:https://www.linkedin.com/in/janedoe\r\n"
    "X-ABUID:5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE:ABPerson\r\n"
    "PHOTO;ENCODING=b;TYPE=JPEG:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpK\r\n"
    " issLS4vMDEyMzQ1Njc4OTo7\r\n"
    "CATEGORIES:customer,Berlin 2024\r\n"
    "UID:5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE\r\n"
    "END:VCARD\r\n"
)


def test_an_apple_contacts_card_with_folded_lines_and_several_addresses() -> None:
    records = read_vcards(APPLE_3_0.encode())

    assert records.skipped == []
    assert records.contacts == [
        ContactRecord(
            name="Jane Doe",
            # the preferred address first, then file order; case and repeats folded away
            emails=["jane.doe@acme.example", "jane@home.example"],
            company="Acme Corporation International Holdings",
            title="Head of Sales",
            phones=["+1 (415) 555-0100"],
            tags=["customer", "Berlin 2024"],
            custom={
                "department": "Strategic Partnerships and Business Development",
                "note": "Met at the Berlin trade fair; prefers email, not calls.\nFollow up in Q3.",
                "x-socialprofile": "https://www.linkedin.com/in/janedoe",
            },
            source_id="5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE",
        )
    ]
    assert records.companies == [CompanyRecord("Acme Corporation International Holdings")]
    assert records.source == "vcard"


def test_vcard_4_preferences_uris_groups_and_organisations() -> None:
    records = read_vcards(
        "BEGIN:VCARD\nVERSION:4.0\nUID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\n"
        "FN:Raj Patel\nN:Patel;Raj;;;\n"
        "EMAIL;TYPE=home;PREF=2:raj@home.example\n"
        "EMAIL;TYPE=work;PREF=1:mailto:Raj@Globex.example\n"
        'TEL;VALUE=uri;TYPE="voice,cell":tel:+44-20-7946-0958\n'
        "ORG:Globex\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:4.0\nKIND:group\nFN:Key accounts\n"
        "MEMBER:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:4.0\nKIND:org\nFN:Globex\nORG:Globex\n"
        "URL:https://www.globex.example/\nEMAIL:info@globex-mail.example\nEND:VCARD\n"
    )

    [raj] = records.contacts
    assert raj.emails == ["raj@globex.example", "raj@home.example"]  # PREF=1 first
    assert raj.phones == ["+44-20-7946-0958"]  # the tel: URI scheme taken off
    assert raj.tags == ["Key accounts"]  # the group's name, on its member
    assert raj.source_id == "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"
    assert records.companies == [CompanyRecord("Globex", ["globex.example", "globex-mail.example"])]
    assert records.skipped == [("card 2", "contact group 'Key accounts': used as a tag")]


def test_an_old_phone_export_in_vcard_2_1_with_quoted_printable() -> None:
    records = read_vcards(
        b"BEGIN:VCARD\r\nVERSION:2.1\r\n"
        b"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;\r\n"
        b"ORG;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:M=FCller & S=F6hne GmbH\r\n"
        # a soft line break ("=" at the end) continues on the next line, unindented
        b"NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Gro=C3=9Fkunde seit 2009, bitte imm=\r\n"
        b"er per Mail\r\n"
        b"TEL;WORK;VOICE:+49 30 1234567\r\n"
        b"EMAIL;PREF;INTERNET:juergen@mueller-soehne.example\r\n"
        b"END:VCARD\r\n"
    )

    [jurgen] = records.contacts
    assert jurgen.name == "J\u00fcrgen M\u00fcller"  # no FN in 2.1: built from N
    assert jurgen.company == "M\u00fcller & S\u00f6hne GmbH"
    # 2.1 does not escape commas: the note is whole
    assert jurgen.custom["note"] == "Gro\u00dfkunde seit 2009, bitte immer per Mail"
    assert jurgen.emails == ["juergen@mueller-soehne.example"]


def test_broken_cards_are_skipped_and_the_rest_still_read() -> None:
    records = read_vcards(
        "BEGIN:VCARD\nVERSION:3.0\nFN:Ann\nEMAIL:ann@example.com\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Half a card\nEMAIL:half@example.com\n"  # never ends
        "BEGIN:VCARD\nVERSION:3.0\nFN:Garbled\nthis line has no colon\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Odd charset\nEMAIL:odd@example.com\n"
        "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=X-UNKNOWN:caf=E9\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Bad photo\nEMAIL:photo@example.com\n"
        "PHOTO;ENCODING=b:not*base64\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:The Plumber\nTEL:+1 555 0199\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Typo\nEMAIL:typo.example.com\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Bo\nEMAIL:bo@example.com\nEND:VCARD\n"
    )

    # A photo that does not decode costs nothing: photos are not imported.
    assert [c.name for c in records.contacts] == ["Ann", "Bad photo", "Bo"]
    assert records.skipped == [
        ("card 2", "card never ends (no END:VCARD)"),
        ("card 3", "unreadable vCard: At line 4: Failed to parse line: this line has no colon"),
        ("card 4", "unreadable vCard: unknown encoding: X-UNKNOWN"),
        ("card 6", "The Plumber: no email address"),
        ("card 7", "Typo: no valid email address (got typo.example.com)"),
    ]


def test_reading_a_vcf_file_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "contacts.vcf"
    path.write_bytes(codecs.BOM_UTF8 + APPLE_3_0.encode())

    assert [c.name for c in read_vcard_file(path).contacts] == ["Jane Doe"]


def test_text_without_cards_says_so() -> None:
    records = read_vcards("name,email\nAnn,ann@example.com\n")

    assert records.contacts == []
    assert records.skipped == [("input", "no BEGIN:VCARD found: not a vCard file")]
