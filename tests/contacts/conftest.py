"""A real CardDAV server for the CardDAV tests: Radicale, run as a subprocess.

Why a real server and not recorded answers: discovery is exactly where clients and servers
disagree (redirects, relative hrefs, which PROPFIND carries which property), and Radicale is a
small, pure-Python, widely used server that speaks all of RFC 6352 and RFC 6764. It listens on a
free 127.0.0.1 port with htpasswd (plain) logins and keeps its collections in a temporary
directory. The address books are filled over HTTP, the way any client would: an extended MKCOL
creates the book and each card is a PUT of a ``.vcf``.

One server serves the whole session (starting it is the slow part). ``alice`` has two books
filled below and tests only read them; ``bob`` never has any; ``carol`` is for tests that build
their own books (each under a name of its own, so the order of tests does not matter).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers.tcp import free_port

ALICE_WORK = [
    (
        "jane.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:jane-1\r\nFN:Jane Doe\r\nN:Doe;Jane;;;\r\n"
        "EMAIL;TYPE=INTERNET,WORK:Jane.Doe@Acme.example\r\nEMAIL;TYPE=INTERNET,HOME:jane@home.example\r\n"
        "ORG:Acme Corp;Sales\r\nTITLE:Head of Sales\r\nTEL;TYPE=WORK:+1 555 0100\r\n"
        "CATEGORIES:customer,vip\r\nEND:VCARD\r\n",
    ),
    (
        "raj.vcf",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:8f1c2e4a-raj\r\nFN:Raj Patel\r\n"
        "EMAIL;PREF=1:raj@globex.example\r\nORG:Globex\r\nEND:VCARD\r\n",
    ),
    (
        "no-mail.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:plumber-1\r\nFN:The Plumber\r\nTEL:+1 555 0199\r\n"
        "END:VCARD\r\n",
    ),
]
ALICE_FAMILY = [
    (
        "mum.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:mum-1\r\nFN:Mum\r\nEMAIL:mum@family.example\r\n"
        "END:VCARD\r\n",
    ),
]


@dataclass
class Radicale:
    """A running Radicale: its base URL, its users and the HTTP calls that fill it."""

    url: str
    users: dict[str, str]  # user -> password

    def make_addressbook(self, user: str, name: str, display_name: str) -> str:
        """Create ``/<user>/<name>/`` as an address book (extended MKCOL, RFC 5689)."""
        url = f"{self.url}/{user}/{name}/"
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>'
            "<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>"
            f"<D:displayname>{display_name}</D:displayname>"
            "</D:prop></D:set></D:mkcol>"
        )
        response = httpx.request("MKCOL", url, content=body, auth=(user, self.users[user]))
        assert response.status_code == 201, (response.status_code, response.text)
        return url

    def put_card(self, book_url: str, filename: str, vcard: str, user: str) -> None:
        response = httpx.put(
            book_url + filename,
            content=vcard.encode(),
            headers={"Content-Type": "text/vcard; charset=utf-8"},
            auth=(user, self.users[user]),
        )
        assert response.status_code == 201, (response.status_code, response.text)


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """Radicale on a free loopback port, ``alice`` with books "Work" and "Family" filled."""
    if importlib.util.find_spec("radicale") is None:
        pytest.fail("Radicale is not installed: pip install -e '.[test]'", pytrace=False)
    root = tmp_path_factory.mktemp("radicale")
    users = {"alice": "correct horse", "bob": "battery staple", "carol": "hunter2 hunter2"}
    (root / "users").write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    port = free_port()
    (root / "config").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {root / 'users'}\n"
        "htpasswd_encryption = plain\n"
        "delay = 0\n"  # no pause after a wrong password: the test for it would wait otherwise
        f"[storage]\nfilesystem_folder = {root / 'collections'}\n"
        "[web]\ntype = none\n"
        "[logging]\nlevel = warning\n"
    )
    log = (root / "radicale.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(root / "config")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/", process, root / "radicale.log")
        server = Radicale(url=f"http://127.0.0.1:{port}", users=users)
        work = server.make_addressbook("alice", "work", "Work")
        for filename, card in ALICE_WORK:
            server.put_card(work, filename, card, "alice")
        family = server.make_addressbook("alice", "family", "Family")
        for filename, card in ALICE_FAMILY:
            server.put_card(family, filename, card, "alice")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Radicale exited at start:\n{log.read_text()}", pytrace=False)
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"Radicale did not answer on {url} within 20 s:\n{log.read_text()}")
