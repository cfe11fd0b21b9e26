"""Fixtures shared by the whole suite: real servers once per session, scripted ones per test.

Real servers (Dovecot, aiosmtpd) are session-scoped because starting them is the slow part and
tests only read from them or use their own addresses; scripted, silent and bare-TLS servers are
function-scoped because each test configures its own replies and inspects what it received.
Everything listens on 127.0.0.1 on kernel-chosen ports and lives in temporary directories.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import Proc, kill, wait_gone
from tests.servers.certs import Certs, make_certs
from tests.servers.dovecot import DOVECOT_NOT_INSTALLED, Dovecot
from tests.servers.scripted import ScriptedIMAP, ScriptedSMTP
from tests.servers.smtp import SMTPServer
from tests.servers.tcp import LineServer, SilentServer, TLSServer, server_context

#: The directory next to the repository (``../shared``): reference data and corpora.
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
CORPUS = SHARED / "corpora" / "spamassassin"


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite leaves no mailmatch process alive: no command it started with a home under
    this session's temporary directory, no parse worker started by the test process itself.

    Checked once, after every other fixture has stopped its servers; what is found is killed
    (by pid) and named, so a leak fails the run instead of piling up on the machine.
    """
    base = str(tmp_path_factory.getbasetemp())
    me = os.getpid()
    own_cmdline = Path(f"/proc/{me}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    yield

    def ours(p: Proc) -> bool:
        forked_here = p.ppid == me and p.cmdline == own_cmdline
        if p.ppid == me and "multiprocessing.forkserver" in p.cmdline:
            # The parse pool's fork server: it lives as long as this process, by design; the
            # workers it starts are still checked (they carry a MAILMATCH_HOME of this session).
            return False
        return forked_here or p.environ().get("MAILMATCH_HOME", "").startswith(base)

    left = wait_gone(ours, timeout=5)
    kill(left)
    if left:
        names = "; ".join(f"{p.pid} (parent {p.ppid}): {p.cmdline}" for p in left)
        pytest.fail(f"the suite left processes behind (now killed): {names}", pytrace=False)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """The test CA and the good, expired and self-signed ``localhost`` certificates."""
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def dovecot(certs: Certs) -> Iterator[Dovecot]:
    """A running Dovecot with ``user@example.com`` and the IMAP-disabled ``noimap@example.com``.

    Fails (does not skip) when Dovecot is missing: the connection tests are the point of the
    suite and must not silently vanish on a machine that lacks the package.
    """
    if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
        pytest.fail(DOVECOT_NOT_INSTALLED, pytrace=False)
    if os.geteuid() != 0:
        pytest.fail(
            "the Dovecot fixture runs as root (it creates the vmail user and starts dovecot): "
            "run the tests as root, as CI does",
            pytrace=False,
        )
    server = Dovecot(certs)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def smtp_server(certs: Certs) -> Iterator[SMTPServer]:
    """aiosmtpd with AUTH on an implicit-TLS port and a STARTTLS port (shared: see ``clear``)."""
    server = SMTPServer(certs).start()
    try:
        yield server
    finally:
        server.stop()


def _factory(
    certs: Certs, cls: type[ScriptedIMAP] | type[ScriptedSMTP]
) -> tuple[Callable[..., Any], list[LineServer]]:
    started: list[LineServer] = []

    def make(*, tls: bool = False, starttls: bool = False, **kwargs: Any) -> Any:
        context = server_context(certs.cert, certs.key)
        server = cls(
            tls_context=context if tls else None,
            starttls_context=context if starttls else None,
            **kwargs,
        ).start()
        started.append(server)
        return server

    return make, started


@pytest.fixture
def scripted_imap(certs: Certs) -> Iterator[Callable[..., ScriptedIMAP]]:
    """Factory: ``scripted_imap(login_reply="NO [ALERT] ...", tls=False, starttls=False, ...)``.

    Keyword arguments are those of :class:`~tests.servers.scripted.ScriptedIMAP`; ``tls=True``
    serves implicit TLS and ``starttls=True`` offers STARTTLS, both with the CA-signed cert.
    """
    make, started = _factory(certs, ScriptedIMAP)
    yield make
    for server in started:
        server.stop()


@pytest.fixture
def scripted_smtp(certs: Certs) -> Iterator[Callable[..., ScriptedSMTP]]:
    """Factory: ``scripted_smtp(auth_reply="534-5.7.9 ...\\r\\n534 5.7.9 ...", tls=False, ...)``."""
    make, started = _factory(certs, ScriptedSMTP)
    yield make
    for server in started:
        server.stop()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A started server that accepts connections and never sends a byte (``.port``)."""
    with SilentServer() as server:
        yield server


@pytest.fixture
def expired_tls_server(certs: Certs) -> Iterator[TLSServer]:
    """Implicit TLS with an expired ``localhost`` certificate signed by the test CA."""
    with TLSServer(certs.expired_cert, certs.expired_key) as server:
        yield server


@pytest.fixture
def selfsigned_tls_server(certs: Certs) -> Iterator[TLSServer]:
    """Implicit TLS with a self-signed ``localhost`` certificate (its pin is in ``certs``)."""
    with TLSServer(certs.selfsigned_cert, certs.selfsigned_key) as server:
        yield server


@pytest.fixture
def mailmatch_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``MAILMATCH_HOME`` and no other ``MAILMATCH_*`` variable; returns the home.

    Clearing the others keeps a developer's own settings (a database URL, a DNS server) from
    leaking into tests.
    """
    for name in list(os.environ):
        if name.startswith("MAILMATCH_"):
            monkeypatch.delenv(name)
    home = tmp_path / "mailmatch-home"
    home.mkdir(mode=0o700)  # as mailmatch makes it: a home others can enter draws a warning
    monkeypatch.setenv("MAILMATCH_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The SpamAssassin public corpus in ``../shared/corpora/spamassassin`` (skips if absent)."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not available: {CORPUS} is missing (it lives outside the repository)")
    return CORPUS


@pytest.fixture(scope="session")
def corpus_messages(corpus_dir: Path) -> list[bytes]:
    """Every corpus message as an IMAP server or parser should get it: without the leading
    mbox ``From`` line each file starts with."""
    raws = []
    for path in sorted(corpus_dir.glob("*/*.txt")):
        data = path.read_bytes()
        raws.append(data.split(b"\n", 1)[1] if data.startswith(b"From ") else data)
    return raws


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL cluster for the session (fails if PostgreSQL is not installed)."""
    from tests.servers.postgres import Postgres, available

    if not available():
        pytest.fail("PostgreSQL not installed: run `bash .ci/run` or `apt-get install postgresql`")
    server = Postgres()
    yield server
    server.stop()
