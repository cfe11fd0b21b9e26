"""parse_message: raw bytes in, plain data out, and never an exception.

Each test is a small hand-written message showing one thing real mail does; the corpus test at
the end runs the same code over the 6,046 real messages of the SpamAssassin corpus.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailmatch.ingest import parse as parse_module
from mailmatch.ingest.models import Address
from mailmatch.ingest.parse import MAX_BODY_CHARS, parse_message

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "spamassassin"


def mail(text: str) -> bytes:
    """The bytes of a message written flush left in a triple-quoted string (LF line ends)."""
    return text.lstrip("\n").encode("utf-8")


PLAIN = mail("""
Message-ID: < 1234.abc@mail.example.com >
Date: Thu, 22 Aug 2002 12:36:23 +0100
From: "Doe, Jane" <Jane.Doe@Example.COM>
To: bob@example.org, Carol <carol@example.net>
Cc: undisclosed-recipients:;
Subject: Re:  quarterly
   numbers
In-Reply-To: Your message of Monday <root@example.com>
References: <root@example.com>
 <child@example.com> <root@example.com>

Hello Bob,
see you.
""")


def test_a_plain_message_becomes_plain_data() -> None:
    parsed = parse_message(PLAIN)
    assert parsed.parse_level == "full"
    assert parsed.sha256 == hashlib.sha256(PLAIN).hexdigest()
    assert parsed.size == len(PLAIN)
    assert parsed.message_id == "1234.abc@mail.example.com"
    assert parsed.subject == "Re: quarterly numbers"  # unfolded, whitespace collapsed
    assert parsed.date == datetime(2002, 8, 22, 11, 36, 23, tzinfo=UTC)
    assert parsed.from_ == [Address("Doe, Jane", "jane.doe@example.com")]
    assert parsed.to == [Address("", "bob@example.org"), Address("Carol", "carol@example.net")]
    assert parsed.cc == []  # an empty group is no address
    assert parsed.in_reply_to == "root@example.com"
    assert parsed.references == ["root@example.com", "child@example.com"]
    assert parsed.body_text == "Hello Bob,\nsee you."
    assert parsed.attachments == []
    assert parsed.defects == []


def test_crlf_line_ends_from_imap_give_the_same_data() -> None:
    lf, crlf = parse_message(PLAIN), parse_message(PLAIN.replace(b"\n", b"\r\n"))
    assert crlf.sha256 != lf.sha256  # the identity is the exact bytes...
    for field in ("message_id", "subject", "date", "from_", "to", "references", "body_text"):
        assert getattr(crlf, field) == getattr(lf, field)  # ...the data is the same


ALTERNATIVE = mail("""
From: shop@example.com
Message-ID: <alt@example.com>
Date: Mon, 1 Jan 2024 10:00:00 -0500
Subject: Your order
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="XYZ"

--XYZ
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 order #42 is on its way.
--XYZ
Content-Type: text/html; charset=utf-8

<html><body><p>Caf&eacute; order <b>#42</b></p></body></html>
--XYZ--
""")


def test_multipart_alternative_uses_the_plain_part() -> None:
    parsed = parse_message(ALTERNATIVE)
    assert parsed.body_text == "Café order #42 is on its way."
    assert parsed.date == datetime(2024, 1, 1, 15, 0, tzinfo=UTC)
    assert parsed.attachments == []  # the unused HTML alternative is not an attachment


def test_html_only_mail_is_converted_to_text() -> None:
    raw = mail("""
Subject: News
Content-Type: text/html; charset=iso-8859-1

<html><head><title>x</title><style>p {color: red}</style></head>
<body><p>Caf\xe9&nbsp;news</p><p>Read <a href="http://x.example">more</a><br>Bye</p></body>
""").replace("\xe9".encode(), b"\xe9")
    assert parse_message(raw).body_text == "Café news\n\nRead more\nBye"


PDF = b"%PDF-1.4 fake " * 100
WITH_ATTACHMENTS = mail(f"""
From: a@example.com
Subject: Report
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: multipart/related; boundary="b2"

--b2
Content-Type: text/plain

See the attached report.
--b2
Content-Type: image/png
Content-Transfer-Encoding: base64
Content-ID: <logo@example.com>

{base64.b64encode(b"PNGDATA").decode()}
--b2--
--b1
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9%202024.pdf
Content-Transfer-Encoding: base64

{base64.encodebytes(PDF).decode()}
--b1--
""")


def test_attachments_carry_decoded_size_hash_and_data() -> None:
    parsed = parse_message(WITH_ATTACHMENTS)
    assert parsed.body_text == "See the attached report."
    logo, report = parsed.attachments
    assert (logo.filename, logo.content_type, logo.data) == (None, "image/png", b"PNGDATA")
    assert (logo.inline, logo.content_id) == (True, "logo@example.com")
    assert report.filename == "résumé 2024.pdf"  # RFC 2231 encoded
    assert report.content_type == "application/pdf"
    assert (report.size, report.data, report.inline) == (len(PDF), PDF, False)
    assert report.sha256 == hashlib.sha256(PDF).hexdigest()  # of the decoded bytes


def test_attachments_over_the_cap_keep_size_and_hash_but_not_data() -> None:
    report = parse_message(WITH_ATTACHMENTS, max_attachment_bytes=100).attachments[1]
    assert (report.data, report.size) == (None, len(PDF))
    assert report.sha256 == hashlib.sha256(PDF).hexdigest()


def test_file_names_in_raw_8bit_or_rfc2047_are_decoded() -> None:
    """Neither is allowed in a parameter, both are common; compat32 alone gives U+FFFD."""
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
        b'Content-Disposition: attachment; filename="r\xe9sum\xe9.pdf"\n\nabc\n--b\n'
        b'Content-Type: application/pdf; name="=?utf-8?q?d=C3=A9j=C3=A0_vu.pdf?="\n\nxyz\n--b--\n'
    )
    names = [attachment.filename for attachment in parse_message(raw).attachments]
    assert names == ["résumé.pdf", "déjà vu.pdf"]


def test_a_forwarded_message_is_an_attachment() -> None:
    raw = mail("""
Subject: Fwd: hello
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

FYI
--b
Content-Type: message/rfc822

From: inner@example.com
Subject: hello

inner body
--b--
""")
    parsed = parse_message(raw)
    assert parsed.body_text == "FYI"  # the forwarded text stays in the attachment
    (forwarded,) = parsed.attachments
    assert (forwarded.filename, forwarded.content_type) == ("forwarded.eml", "message/rfc822")
    assert forwarded.data is not None
    assert parse_message(forwarded.data).subject == "hello"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("=?ISO-8859-1?Q?Caf=E9_cr=E8me?=", "Café crème"),
        ("=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus Berlin", "Grüße aus Berlin"),
        ("=?UTF-8?B?0J/RgNC40LLQtdGC?=", "Привет"),
        # one character split over two words, joined before decoding; the space between goes
        ("=?utf-8?b?w6k=?= =?utf-8?b?w6k=?=", "éé"),
        ("Re: =?utf-8?Q?na=C3=AFve?=  idea", "Re: naïve idea"),
        ("=?utf-8?b?not base64!?=", "=?utf-8?b?not base64!?="),  # kept as written
    ],
)
def test_rfc2047_subjects_are_decoded(header: str, expected: str) -> None:
    assert parse_message(f"Subject: {header}\n\nx".encode()).subject == expected


def test_encoded_display_names_are_decoded_after_splitting_the_list() -> None:
    raw = b'From: =?utf-8?q?M=C3=BCller=2C_Hans?= <H@Example.de>, "Ann" <ann@x.org>\n\n'
    assert parse_message(raw).from_ == [
        Address("Müller, Hans", "h@example.de"),  # the encoded comma did not split the list
        Address("Ann", "ann@x.org"),
    ]


def test_unknown_charsets_fall_back_and_are_recorded() -> None:
    raw = mail("""
Subject: =?x-unheard-of?q?caf=C3=A9?=
Content-Type: text/plain; charset="x-unheard-of"

na\xefve
""").replace("\xef".encode(), b"\xef")
    parsed = parse_message(raw)
    assert parsed.parse_level == "full"
    assert parsed.subject == "café"  # valid UTF-8 is taken as UTF-8
    assert parsed.body_text == "naïve"  # anything else as windows-1252
    assert "unknown_charset:x-unheard-of" in parsed.defects


def test_eight_bit_headers_are_decoded() -> None:
    parsed = parse_message(b"From: Fran\xe7ois <f@example.fr>\nSubject: \xc3\xa9t\xc3\xa9\n\nx")
    assert parsed.from_ == [Address("François", "f@example.fr")]
    assert parsed.subject == "été"  # raw UTF-8 (RFC 6532) is no defect
    assert parsed.defects.count("header_8bit") == 1  # the latin-1 name is


def test_an_empty_message_id_is_none_not_an_error() -> None:
    parsed = parse_message(b"Message-ID: <>\nSubject: hi\n\nbody")  # IndexError in policy.default
    assert (parsed.parse_level, parsed.message_id) == ("full", None)
    assert "no_message_id" in parsed.defects


def test_missing_and_bad_dates_are_none_with_a_defect() -> None:
    assert "no_date" in parse_message(b"Subject: x\n\ny").defects
    parsed = parse_message(b"Date: the day after tomorrow\nSubject: x\n\ny")
    assert (parsed.date, parsed.defects) == (None, ["no_message_id", "bad_date"])


def test_a_date_without_zone_is_taken_as_utc() -> None:
    parsed = parse_message(b"Date: Thu, 22 Aug 2002 12:36:23 -0000\n\nx")
    assert parsed.date == datetime(2002, 8, 22, 12, 36, 23, tzinfo=UTC)


def test_a_broken_boundary_keeps_the_text() -> None:
    raw = mail("""
Subject: broken
Content-Type: multipart/mixed; boundary="never-used"

--some-other-boundary
Content-Type: text/plain

still readable
""")
    parsed = parse_message(raw)
    assert parsed.parse_level == "full"
    assert "still readable" in parsed.body_text
    assert "StartBoundaryNotFoundDefect" in parsed.defects


@pytest.mark.parametrize(
    ("raw", "level", "defect"),
    [
        (b"", "raw", "empty"),
        (b"\r\n\r\n", "raw", "empty"),
        (bytes(range(256)) * 4, "raw", "no_headers"),
        (b"\x00\xff\xfe junk without any colon\n\x89PNG", "raw", "no_headers"),
        (b"Subject: a lone header line", "full", "no_message_id"),
        (b"X-Mailer: only headers nobody reads\n\nbody", "full", "no_date"),
        (b"Subject: \xff\xfe\x00\n\n\x00\x00", "full", "header_8bit"),
    ],
)
def test_garbage_is_stored_not_raised(raw: bytes, level: str, defect: str) -> None:
    parsed = parse_message(raw)
    assert (parsed.parse_level, parsed.size) == (level, len(raw))
    assert parsed.sha256 == hashlib.sha256(raw).hexdigest()
    assert defect in parsed.defects
    assert "\x00" not in parsed.subject + parsed.body_text  # databases refuse NUL


def test_a_non_bytes_argument_is_still_no_exception() -> None:
    parsed = parse_message("not bytes")  # type: ignore[arg-type]
    assert (parsed.parse_level, parsed.defects) == ("raw", ["not_bytes", "empty"])


def test_a_failing_body_walk_still_returns_the_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object) -> None:
        raise RecursionError("deeply nested MIME")

    monkeypatch.setattr(parse_module, "_extract_body", explode)
    parsed = parse_message(PLAIN)
    assert (parsed.parse_level, parsed.subject) == ("headers", "Re: quarterly numbers")
    assert "parse_error:RecursionError" in parsed.defects


def test_thousands_of_nested_multiparts_still_give_the_headers() -> None:
    """The feed parser recurses per level; past Python's limit only the header block is read."""
    nested = b"".join(
        b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (level, level + 1)
        for level in range(3000)
    )
    raw = b"Subject: deep\nContent-Type: multipart/mixed; boundary=b0\n\n" + nested + b"--b3000\n"
    parsed = parse_message(raw)
    assert (parsed.parse_level, parsed.subject) == ("headers", "deep")
    assert "parse_error:RecursionError" in parsed.defects


def test_when_nothing_parses_sha_and_size_remain(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(parse_module, "message_from_bytes", explode)
    monkeypatch.setattr("email.parser.BytesHeaderParser.parsebytes", explode)
    parsed = parse_message(PLAIN)
    assert (parsed.parse_level, parsed.size, parsed.subject) == ("raw", len(PLAIN), "")
    assert parsed.sha256 == hashlib.sha256(PLAIN).hexdigest()
    assert parsed.defects == ["parse_error:MemoryError"]


def test_the_body_is_truncated() -> None:
    parsed = parse_message(b"Subject: long\n\n" + b"x" * (MAX_BODY_CHARS + 10))
    assert len(parsed.body_text) == MAX_BODY_CHARS
    assert "body_truncated" in parsed.defects


def test_mangled_messages_never_raise() -> None:
    """Cut, spliced and bit-flipped versions of the examples above: all parse to something."""
    rng = random.Random(2002)
    samples = [PLAIN, ALTERNATIVE, WITH_ATTACHMENTS]
    for _ in range(400):
        raw = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(raw))
            if rng.random() < 0.5:
                raw[at] = rng.randrange(256)
            else:
                raw[at:at] = rng.choice([b"\n", b"=?", b"?=", b"<", b"--b1", b"\r", b";"])
        raw = raw[: rng.randrange(len(raw) + 1)] if rng.random() < 0.3 else raw
        parsed = parse_message(bytes(raw))
        assert parsed.size == len(raw)


@pytest.mark.corpus
def test_the_spamassassin_corpus_parses_without_an_exception() -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpora/spamassassin not found")
    files = sorted(CORPUS.glob("*/*.txt"))
    assert len(files) == 6046
    levels: Counter[str] = Counter()
    defects: Counter[str] = Counter()
    for path in files:
        raw = path.read_bytes()
        if raw.startswith(b"From "):  # the mbox separator line is not part of the message
            raw = raw.split(b"\n", 1)[1]
        parsed = parse_message(raw)
        assert parsed.size == len(raw)
        assert parsed.sha256 == hashlib.sha256(raw).hexdigest()
        levels[parsed.parse_level] += 1
        defects.update(parsed.defects)
    print(f"\nlevels: {dict(levels)}\ndefects: {defects.most_common()}")
    assert levels["full"] >= 0.99 * len(files)
