"""A real Dovecot 2.3 IMAP server for the tests, started from its own configuration in /tmp.

The configuration follows ``../shared/reference/servers/dovecot-test.conf`` (known to work here as
root on loopback) with these additions, each for a reason a test depends on:

* Ports are free loopback ports chosen at start, never fixed ones, and everything (config, run
  dir, mail, log) lives in one short directory under /tmp, removed by :meth:`Dovecot.close`.
  The run dir must be short because it holds Unix sockets (paths are limited to ~100 bytes).
* TLS uses the CA-signed ``localhost`` certificate from :mod:`tests.servers.certs`, on an
  implicit-TLS listener (``imaps_port``) and a plaintext listener that offers STARTTLS
  (``imap_port``).
* Users come from a ``dict`` passdb backed by a file of JSON records (one per user) that
  :meth:`Dovecot.add_user` rewrites atomically, not from the reference's passwd-file, for two
  measured reasons. Dovecot 2.3 re-checks a passwd-file at most once per second and only by
  (mtime in seconds, size), so a user added right after a login was not seen; the dict file is
  re-opened on every lookup once its inode changes. And passwd-file splits extra fields on
  spaces, so it cannot carry a readable refusal text.
* An account with IMAP switched off gets ``nologin`` plus a ``reason`` once its password has
  been checked, and Dovecot answers the login with ``NO [CONTACTADMIN] <reason>`` (RFC 5530
  code; exact wire form in :data:`IMAP_DISABLED_REPLY`). A wrong password for that account is a
  plain authentication failure, as at Gmail, so "IMAP disabled" only shows with the right one.
* Failed logins are answered quickly: ``auth_failure_delay = 0`` (Dovecot 2.3.19 still holds a
  failure until its 500 ms check timer fires, so expect ~0.5 s per failed login), and the
  per-IP auth penalty (2 s, 4 s, 8 s... after repeated failures from 127.0.0.1) is disabled by
  not creating anvil's ``anvil-auth-penalty`` socket (a stale socket file left there would make
  the auth process retry it for 5 s at startup; the run dir is always fresh, so there is none).
  ``login_trusted_networks`` would not help: 2.3.19 applies the penalty to trusted networks
  too, whatever the documentation says.
* Mail processes run as the ``vmail`` system user (created if missing), because Dovecot refuses
  to run them as root.
"""

from __future__ import annotations

import contextlib
import grp
import itertools
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

from tests.servers.certs import Certs
from tests.servers.tcp import HOST, LOOPBACK, free_port

__all__ = [
    "AUTH_FAILED_REPLY",
    "DOVECOT_NOT_INSTALLED",
    "IMAP_DISABLED_REASON",
    "IMAP_DISABLED_REPLY",
    "NOIMAP_PASSWORD",
    "NOIMAP_USER",
    "PASSWORD",
    "USER",
    "Dovecot",
    "DovecotError",
    "ensure_vmail_user",
]

DOVECOT_NOT_INSTALLED = (
    "dovecot not installed: run `bash .ci/run` or `apt-get install dovecot-imapd`"
)

USER = "user@example.com"
PASSWORD = "abcd-efgh-ijkl-mnop"
NOIMAP_USER = "noimap@example.com"
NOIMAP_PASSWORD = "wxyz-wxyz-wxyz-wxyz"

#: The reason our Dovecot gives for an account with IMAP switched off (modelled on Gmail's
#: "Your account is not enabled for IMAP use").
IMAP_DISABLED_REASON = "IMAP access is disabled for this account. Enable IMAP in your settings."
#: What Dovecot sends after the client's tag for that account (verified against 2.3.19).
IMAP_DISABLED_REPLY = f"NO [CONTACTADMIN] {IMAP_DISABLED_REASON}"
#: What Dovecot sends after the client's tag for a wrong password or an unknown user.
AUTH_FAILED_REPLY = "NO [AUTHENTICATIONFAILED] Authentication failed."

VMAIL = "vmail"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

_MAILDIR_FLAGS = frozenset("DFPRST")  # Draft, Flagged, Passed, Replied, Seen, Trashed
_counter = itertools.count()

_CONFIG = """\
# Written by tests/servers/dovecot.py; see its docstring for why each setting is here.
base_dir = {run}
state_dir = {run}/state
instance_name = {instance}
protocols = imap
listen = {loopback}
log_path = {log}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
passdb {{
  driver = dict
  args = {dict_conf}
}}
userdb {{
  driver = static
  args = uid={vmail} gid={vmail} home={mail}/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
"""

_DICT_CONF = """\
uri = file:{users_file}
default_pass_scheme = PLAIN
iterate_disable = yes
key passdb {{
  key = passdb/%u
  format = json
}}
passdb_objects = passdb
"""


class DovecotError(RuntimeError):
    """Dovecot failed to start or stop; the message carries its log."""


def ensure_vmail_user() -> tuple[int, int]:
    """Create the ``vmail`` system user if missing; return its uid and gid."""
    try:
        entry = pwd.getpwnam(VMAIL)
    except KeyError:
        subprocess.run(
            ["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", VMAIL],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(VMAIL)
    return entry.pw_uid, entry.pw_gid


def _atomic_write(path: Path, text: str, mode: int, gid: int = -1) -> None:
    """Write via a temporary file and rename, so Dovecot never reads a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chown(tmp, 0, gid)
    tmp.chmod(mode)
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone: it is not our child to reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" not in status


class Dovecot:
    """One Dovecot instance with its own configuration, users and mail, on loopback ports.

    Attributes tests use: ``host`` ("localhost"), ``imaps_port``, ``imap_port`` (plaintext,
    offers STARTTLS), ``ca_file`` (str), ``fingerprint`` (SHA-256 hex of the server
    certificate), ``users`` (address -> password, including IMAP-disabled ones; change it with
    :meth:`add_user`), ``imap_disabled`` (address -> reason).
    """

    host = HOST

    def __init__(self, certs: Certs) -> None:
        if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
            raise DovecotError(DOVECOT_NOT_INSTALLED)
        self.certs = certs
        self.ca_file = str(certs.ca_file)
        self.fingerprint = certs.fingerprint
        self.uid, self.gid = ensure_vmail_user()
        try:
            self._auth_gid = grp.getgrnam("dovecot").gr_gid  # auth runs as the dovecot user
        except KeyError:
            self._auth_gid = -1
        # Short, under /tmp: the run dir holds Unix sockets.
        self.root = Path(tempfile.mkdtemp(prefix="mmdc-", dir="/tmp"))
        self.root.chmod(0o755)  # the auth (dovecot) and mail (vmail) processes read below it
        self.config_file = self.root / "dovecot.conf"
        self.run_dir = self.root / "run"
        self.mail_root = self.root / "mail"
        self.log_file = self.root / "dovecot.log"
        self.users_file = self.root / "users.dict"
        self.dict_conf = self.root / "passdb-dict.conf.ext"
        self.mail_root.mkdir(mode=0o700)
        os.chown(self.mail_root, self.uid, self.gid)
        self.imaps_port = free_port()
        self.imap_port = free_port()
        self.users: dict[str, str] = {}
        self.imap_disabled: dict[str, str] = {}
        self._write_config()
        self.add_user(USER, PASSWORD)
        self.add_user(NOIMAP_USER, NOIMAP_PASSWORD, imap_disabled_reason=IMAP_DISABLED_REASON)

    # -- configuration -----------------------------------------------------------------------

    def _write_config(self) -> None:
        self.config_file.write_text(
            _CONFIG.format(
                run=self.run_dir,
                instance=f"mailmatch-test-{self.imaps_port}",
                loopback=LOOPBACK,
                log=self.log_file,
                cert=self.certs.cert,
                key=self.certs.key,
                uid=self.uid,
                gid=self.gid,
                dict_conf=self.dict_conf,
                vmail=VMAIL,
                mail=self.mail_root,
                imap_port=self.imap_port,
                imaps_port=self.imaps_port,
            )
        )
        _atomic_write(
            self.dict_conf, _DICT_CONF.format(users_file=self.users_file), 0o640, self._auth_gid
        )

    def add_user(
        self, address: str, password: str, *, imap_disabled_reason: str | None = None
    ) -> None:
        """Add or replace a user; with ``imap_disabled_reason`` the account refuses IMAP.

        Takes effect for the very next login, without a reload.
        """
        if any(c in address for c in "\t\n\r\x01"):
            raise ValueError("an address cannot contain tabs, line breaks or \\x01")
        self.users[address] = password
        if imap_disabled_reason is None:
            self.imap_disabled.pop(address, None)
        else:
            self.imap_disabled[address] = imap_disabled_reason
        self._write_users()

    def remove_user(self, address: str) -> None:
        """Delete a user (its mail stays on disk)."""
        self.users.pop(address, None)
        self.imap_disabled.pop(address, None)
        self._write_users()

    def _write_users(self) -> None:
        """Rewrite the dict file: a key line, then a JSON line, per user.

        The password carries its scheme so a password that starts with ``{`` is not mistaken
        for one. The rename gives the file a new inode, which is what Dovecot's file dict
        checks on each lookup.
        """
        entries = []
        for addr, password in self.users.items():
            value = {"password": "{PLAIN}" + password}
            if addr in self.imap_disabled:
                value |= {"nologin": "y", "reason": self.imap_disabled[addr]}
            entries.append(f"shared/passdb/{addr}\n{json.dumps(value)}\n")
        _atomic_write(self.users_file, "".join(entries), 0o640, self._auth_gid)

    # -- lifecycle ---------------------------------------------------------------------------

    def _master_pid(self) -> int | None:
        try:
            return int((self.run_dir / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def running(self) -> bool:
        pid = self._master_pid()
        return pid is not None and _pid_alive(pid)

    def start(self) -> Self:
        """Start Dovecot and return once both listeners accept and IMAP greets."""
        if self.running:
            return self
        # Not capture_output: the daemon inherits the pipes and would keep them open forever.
        startup_log = self.root / "startup.err"
        with startup_log.open("wb") as err:
            proc = subprocess.run(
                ["dovecot", "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                timeout=START_TIMEOUT,
            )
        if proc.returncode != 0:
            raise DovecotError(
                f"dovecot -c {self.config_file} exited {proc.returncode}: "
                f"{startup_log.read_text(errors='replace').strip()}\n"
                f"--- dovecot log ---\n{self.log_text()}"
            )
        deadline = time.monotonic() + START_TIMEOUT
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                self._check_listeners()
                return self
            except OSError as exc:
                last_error = exc
                time.sleep(0.05)
        raise DovecotError(
            f"Dovecot did not accept IMAP connections on {LOOPBACK}:{self.imap_port} and "
            f":{self.imaps_port} within {START_TIMEOUT:.0f} s ({last_error})\n"
            f"--- dovecot log ---\n{self.log_text()}"
        )

    def _check_listeners(self) -> None:
        with socket.create_connection((LOOPBACK, self.imaps_port), timeout=1):
            pass
        with socket.create_connection((LOOPBACK, self.imap_port), timeout=2) as s:
            greeting = s.recv(1024)
            if not greeting.startswith(b"* OK"):
                raise OSError(f"unexpected greeting {greeting!r}")

    def stop(self) -> None:
        """Stop Dovecot (``doveadm stop``) and return once its master process has exited.

        The master always takes about a second (it gives its log process a fixed second to
        flush). ``doveadm stop`` then polls until the master's pid is gone, which in a
        container whose PID 1 reaps orphans slowly can take another second or two after the
        master has in fact exited; so we poll for "exited" ourselves and do not wait for
        doveadm (Python's subprocess module reaps it later).
        """
        pid = self._master_pid()
        if pid is None or not _pid_alive(pid):
            return
        doveadm = subprocess.Popen(
            ["doveadm", "-c", str(self.config_file), "stop"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STOP_TIMEOUT
        while _pid_alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)  # the master we started; its children follow
                break
            time.sleep(0.02)
        with contextlib.suppress(subprocess.TimeoutExpired):
            doveadm.wait(timeout=0.05)

    def restart(self) -> Self:
        """Stop and start again on the same ports, with the same users and mail."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop and delete the whole instance directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log written)"

    # -- mail on disk ------------------------------------------------------------------------

    def maildir(self, address: str) -> Path:
        """The user's Maildir (INBOX); it may not exist before the first login or delivery."""
        return self.mail_root / address / "Maildir"

    def folder_dir(self, address: str, folder: str = "INBOX") -> Path:
        """Where ``folder`` lives on disk: Maildir++ puts "A/B" in ``.A.B`` under the Maildir.

        The IMAP separator is ``/`` (namespace setting) but the Maildir++ layout on disk always
        uses ``.`` between levels, with a leading dot.
        """
        if folder.upper() == "INBOX":
            return self.maildir(address)
        if "." in folder:
            raise ValueError("a '.' in a folder name is not representable in Maildir++")
        return self.maildir(address) / ("." + folder.replace("/", "."))

    def _make_dir(self, path: Path) -> None:
        if not path.is_dir():
            path.mkdir(mode=0o700)
        os.chown(path, self.uid, self.gid)

    def _ensure_maildir(self, address: str, folder: str) -> Path:
        home = self.mail_root / address
        self._make_dir(home)
        self._make_dir(self.maildir(address))
        target = self.folder_dir(address, folder)
        for path in (target.parent, target):
            self._make_dir(path)
        for sub in ("cur", "new", "tmp"):
            self._make_dir(target / sub)
        if target != self.maildir(address):
            marker = target / "maildirfolder"
            marker.touch()
            os.chown(marker, self.uid, self.gid)
        return target

    def deliver(self, address: str, raw: bytes, folder: str = "INBOX", flags: str = "") -> Path:
        """Put one message into ``folder`` as a Maildir file in ``cur/``; return its path.

        ``flags`` are Maildir letters (``S`` seen, ``F`` flagged, ``R`` replied, ``D`` draft,
        ``T`` deleted, ``P`` passed); empty means unseen. Dovecot picks the file up and gives it
        a UID the next time the folder is opened. The file is written to ``tmp/`` and renamed,
        as Maildir requires, and belongs to ``vmail``.
        """
        bad = set(flags) - _MAILDIR_FLAGS
        if bad:
            raise ValueError(f"not Maildir flags: {''.join(sorted(bad))}")
        target = self._ensure_maildir(address, folder)
        now = time.time()
        host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
        base = f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(_counter)}.{host}"
        name = f"{base},S={len(raw)}:2,{''.join(sorted(set(flags)))}"
        tmp = target / "tmp" / base
        tmp.write_bytes(raw)
        os.chown(tmp, self.uid, self.gid)
        tmp.chmod(0o600)
        final = target / "cur" / name
        os.replace(tmp, final)
        return final

    def reset_uidvalidity(self, address: str, folder: str = "INBOX") -> None:
        """Make Dovecot give ``folder`` a new UIDVALIDITY (and new UIDs) on its next access.

        Deleting ``dovecot-uidlist`` alone is not enough once the folder has been opened: the
        index still holds the old UIDVALIDITY, so Dovecot renumbers the messages but keeps
        announcing the old UIDVALIDITY (measured on 2.3.19). The folder's index files and the
        mailbox-list index (which caches STATUS) go too. Call this between sessions, not while
        a client has the folder selected.
        """
        target = self.folder_dir(address, folder)
        doomed = [
            *target.glob("dovecot-uidlist*"),
            *target.glob("dovecot.index*"),
            *self.maildir(address).glob("dovecot.list.index*"),
        ]
        for path in doomed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
