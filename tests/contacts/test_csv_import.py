"""Reading the CSV files CRMs and address books really export.

Each test writes a small file shaped like the tool's own export (header names, quoting,
encoding, delimiter) and shows what comes out of it.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from mailmatch.contacts.csv_import import read_csv
from mailmatch.contacts.records import CompanyRecord, ContactRecord
from mailmatch.errors import InvalidInput


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_a_salesforce_contacts_report(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "report1718211234567.csv",
        '"Contact Owner","First Name","Last Name","Title","Account Name","Email","Phone",'
        '"Mobile","Mailing City","Lead Source","Contact ID","Created Date"\n'
        '"Sam Seller","Jane","Doe","VP Engineering","Acme Corp","Jane.Doe@Acme.example",'
        '"+1 415 555 0100","+1 415 555 0101","San Francisco","Web","0035g00000AbCdE","1/15/2024"\n'
        '"Sam Seller","Bob","Smith","CTO","Globex","bob.smith@globex.example; bob@globex.example",'
        '"","","","","0035g00000AbCdF","2/1/2024"\n'
        '"Sam Seller","Nora","Nomail","Buyer","Initech","","","","","","0035g00000AbCdG",'
        '"3/1/2024"\n',
    )

    records = read_csv(path)

    assert records.source == "csv:salesforce"
    assert records.contacts[0] == ContactRecord(
        name="Jane Doe",
        emails=["jane.doe@acme.example"],
        company="Acme Corp",
        title="VP Engineering",
        phones=["+1 415 555 0100", "+1 415 555 0101"],
        owner="Sam Seller",
        custom={"Mailing City": "San Francisco", "Lead Source": "Web"},
        source_id="0035g00000AbCdE",
    )
    assert records.contacts[1].emails == ["bob.smith@globex.example", "bob@globex.example"]
    # Nora has no address: she is reported, her company is still worth knowing.
    assert records.skipped == [("row 4", "no email address (company 'Initech' was kept)")]
    assert [c.name for c in records.companies] == ["Acme Corp", "Globex", "Initech"]
    assert records.used_columns["Account Name"] == "company"
    assert records.used_columns["Contact Owner"] == "owner"
    assert records.ignored_columns == ["Created Date"]


def test_a_salesforce_leads_report_from_excel_with_semicolons(tmp_path: Path) -> None:
    # Excel in a comma-decimal locale writes ";" and a BOM.
    path = write(
        tmp_path,
        "leads.csv",
        "\ufeffLead Owner;First Name;Last Name;Company;Email;Lead Status;Website\r\n"
        "Sam Seller;Peter;Gibbons;Initech;peter@initech.example;Open;https://www.initech.example/about\r\n",
    )

    records = read_csv(path)

    assert records.source == "csv:salesforce"
    [peter] = records.contacts
    assert (peter.name, peter.emails, peter.company, peter.owner) == (
        "Peter Gibbons",
        ["peter@initech.example"],
        "Initech",
        "Sam Seller",
    )
    assert records.companies == [CompanyRecord("Initech", ["initech.example"])]
    assert records.used_columns["Website"] == "company_website"


def test_a_hubspot_contacts_export(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hubspot-crm-exports-all-contacts-2024-06-12.csv",
        "Record ID,First Name,Last Name,Email,Phone Number,Contact owner,Associated Company,"
        "Company Name,Job Title,Lifecycle Stage,Create Date,Company Domain Name\n"
        "51,Maria,Garcia,maria@umbrella.example,+44 20 7946 0000,Olga Owner,Umbrella Corp,"
        "Umbrella,COO,customer,2024-05-02 10:00,umbrella.example\n"
        "52,Tom,Lee,tom@hooli.example,,,,Hooli,Engineer,lead,2024-05-03 11:00,\n",
    )

    records = read_csv(path)

    assert records.source == "csv:hubspot"
    maria, tom = records.contacts
    # "Associated Company" is the company record; "Company Name" is what the contact typed.
    assert maria.company == "Umbrella Corp"
    assert (maria.owner, maria.title, maria.source_id) == ("Olga Owner", "COO", "51")
    assert maria.custom == {"Lifecycle Stage": "customer"}
    assert tom.company == "Hooli"
    assert records.companies == [
        CompanyRecord("Umbrella Corp", ["umbrella.example"]),
        CompanyRecord("Hooli", []),
    ]
    assert records.used_columns["Company Domain Name"] == "company_domain"
    assert records.ignored_columns == ["Create Date"]


def test_a_google_contacts_export_with_bom_labels_and_two_addresses(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "contacts.csv",
        "\ufeffFirst Name,Middle Name,Last Name,Phonetic First Name,Nickname,File As,"
        "Name Prefix,Birthday,Notes,Labels,E-mail 1 - Label,E-mail 1 - Value,"
        "E-mail 2 - Label,E-mail 2 - Value,Phone 1 - Label,Phone 1 - Value,"
        "Organization Name,Organization Title,Organization Department,Website 1 - Value\n"
        "Ana,Maria,Souza,,Aninha,,,1985-04-12,Met at SaaStr,"
        "* myContacts ::: Clients ::: * starred,Work,Ana@BigCo.example,Home,ana.souza@home.example,"
        "Mobile,+55 11 91234-5678 ::: +55 11 3333-4444,BigCo,CFO,Finance,https://ana.example\n",
    )

    records = read_csv(path)

    assert records.source == "csv:google"
    assert records.contacts == [
        ContactRecord(
            name="Ana Maria Souza",
            emails=["ana@bigco.example", "ana.souza@home.example"],
            company="BigCo",
            title="CFO",
            phones=["+55 11 91234-5678", "+55 11 3333-4444"],
            tags=["Clients", "starred"],  # "* myContacts" is on every contact: dropped
            custom={
                "Nickname": "Aninha",
                "Birthday": "1985-04-12",
                "Notes": "Met at SaaStr",
                "Organization Department": "Finance",
            },
        )
    ]
    assert records.used_columns["E-mail 2 - Value"] == "email"
    assert "E-mail 1 - Label" in records.ignored_columns
    assert "Website 1 - Value" in records.ignored_columns  # a personal site, not the company's


def test_the_older_google_csv_in_utf16(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "google.csv",
        "\ufeffName,Given Name,Additional Name,Family Name,Group Membership,"
        "E-mail 1 - Type,E-mail 1 - Value,Organization 1 - Name,Organization 1 - Title\r\n"
        "Jürgen Müller,Jürgen,,Müller,* My Contacts ::: Lieferanten,* Work,"
        "j.mueller@firma.example ::: jm@privat.example,Firma GmbH,Einkauf\r\n",
        encoding="utf-16-le",
    )

    records = read_csv(path)

    assert records.source == "csv:google"
    [jurgen] = records.contacts
    assert jurgen.name == "Jürgen Müller"
    assert jurgen.emails == ["j.mueller@firma.example", "jm@privat.example"]
    assert (jurgen.company, jurgen.title, jurgen.tags) == ("Firma GmbH", "Einkauf", ["Lieferanten"])


def test_an_outlook_export_in_utf16(tmp_path: Path) -> None:
    path = tmp_path / "outlook.csv"
    path.write_bytes(
        codecs.BOM_UTF16_LE
        + (
            '"Title","First Name","Middle Name","Last Name","Suffix","Company","Department",'
            '"Job Title","Business Phone","Mobile Phone","Categories","E-mail Address",'
            '"E-mail Type","E-mail Display Name","E-mail 2 Address","E-mail 2 Type"\r\n'
            '"Mr.","Carlos","","Ruiz","","Contoso Ltd","IT","CIO","+34 91 123 45 67","",'
            '"Customers;VIP","carlos@contoso.example","SMTP",'
            '"Carlos Ruiz (carlos@contoso.example)","cruiz@contoso.example","SMTP"\r\n'
            '"","Ex","","Change","","Contoso Ltd","","","","","",'
            '"/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=exchange","EX",'
            '"","",""\r\n'
        ).encode("utf-16-le")
    )

    records = read_csv(path)

    assert records.source == "csv:outlook"
    [carlos] = records.contacts
    assert carlos.name == "Carlos Ruiz"
    assert carlos.emails == ["carlos@contoso.example", "cruiz@contoso.example"]
    assert (carlos.title, carlos.tags) == ("CIO", ["Customers", "VIP"])  # not "Mr."
    assert "Title" in records.ignored_columns
    # An Exchange directory path is no address: reported, not imported.
    assert records.skipped == [
        (
            "row 3",
            "no valid email address (got /o=ExchangeLabs/ou=Exchange Administrative Group"
            "/cn=Recipients/cn=exchange)",
        )
    ]


def test_a_hand_made_sheet_with_companies_and_problems(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people.csv",
        "name,email,company,domain,favourite colour\n"
        "Jane Doe,jane@acme.example,Acme,acme.example,green\n"
        ",,Initech,initech.example,\n"
        "Bob,,,,\n"
        "Eve,not-an-address,,,\n"
        ",,,,\n"
        "Zed,ZED@ACME.EXAMPLE,ACME,,\n",
    )

    records = read_csv(path)

    assert records.source == "csv"
    assert [(c.name, c.emails, c.company) for c in records.contacts] == [
        ("Jane Doe", ["jane@acme.example"], "Acme"),
        ("Zed", ["zed@acme.example"], "Acme"),  # one company, spelled as first seen
    ]
    assert records.companies == [
        CompanyRecord("Acme", ["acme.example"]),
        CompanyRecord("Initech", ["initech.example"]),  # a company row: not a skip
    ]
    assert records.skipped == [
        ("row 4", "no email address"),
        ("row 5", "no valid email address (got not-an-address)"),
    ]
    assert records.used_columns == {
        "name": "name",
        "email": "email",
        "company": "company",
        "domain": "company_domain",
    }
    assert records.ignored_columns == ["favourite colour"]


def test_a_companies_only_list_turns_websites_into_domains(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "accounts.csv",
        "Account Name,Website,Industry\n"
        "Acme Corp,https://www.acme.example/,Manufacturing\n"
        "Globex,globex.example,Energy\n"
        ",orphan.example,\n",
    )

    records = read_csv(path)

    assert records.contacts == []
    assert records.companies == [
        CompanyRecord("Acme Corp", ["acme.example"]),
        CompanyRecord("Globex", ["globex.example"]),
    ]
    assert records.skipped == [("row 4", "no company name")]
    assert records.used_columns["Website"] == "company_domain"


def test_a_windows_1252_file_still_reads(tmp_path: Path) -> None:
    path = write(tmp_path, "ansi.csv", "Name,E-mail\nJosé Müller,jose@firma.example\n", "cp1252")

    records = read_csv(path)

    assert [c.name for c in records.contacts] == ["José Müller"]
    assert records.fallback_lines == [2]  # the one line that is not plain ASCII


def test_a_file_mixing_utf8_and_windows_1252_lines_reads_each_line_right(tmp_path: Path) -> None:
    # Two exports pasted together: the UTF-8 one from a Mac, the "ANSI" one from Outlook.
    path = tmp_path / "merged.csv"
    path.write_bytes(
        "Name,E-mail\nJosé Müller,jose@firma.example\n".encode()
        + "François Dœuf,francois@firma.example\n".encode("cp1252")
        + "Zoë Ångström,zoe@firma.example\n".encode()
    )

    records = read_csv(path)

    assert [c.name for c in records.contacts] == ["José Müller", "François Dœuf", "Zoë Ångström"]
    assert records.fallback_lines == [3]


def test_nul_bytes_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "padded.csv"
    path.write_bytes(b"Name,E-mail\nAnn\x00 Lee,ann@firma.example\x00\n\x00\x00\n")

    records = read_csv(path)

    assert [(c.name, c.emails) for c in records.contacts] == [("Ann Lee", ["ann@firma.example"])]
    assert records.skipped == []


def test_a_file_that_is_not_a_contacts_export_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "sales.csv", "date,amount\n2024-01-01,100\n")

    with pytest.raises(InvalidInput, match="no email column"):
        read_csv(path)
