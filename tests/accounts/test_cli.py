"""The command-line contract, run as a user runs it: a real process, real servers."""

from __future__ import annotations

import json
import re
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.cli import run_mailmatch, run_on_terminal
from tests.servers.scripted import ScriptedSMTP
from tests.servers.tcp import TLSServer, server_context

USER, PASSWORD = "user@example.com", "abcd-efgh-ijkl-mnop"


def mailmatch(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_mailmatch(home, *args, stdin=stdin, env={"MAILMATCH_CONNECT_TIMEOUT": "5"})


def server_flags(dovecot: Any, smtp_server: Any) -> list[str]:
    return [
        "--imap-host",
        "localhost",
        "--imap-port",
        str(dovecot.imaps_port),
        "--imap-security",
        "ssl",
        "--smtp-host",
        "localhost",
        "--smtp-port",
        str(smtp_server.starttls_port),
        "--smtp-security",
        "starttls",
        "--ca-file",
        str(dovecot.ca_file),
    ]


def test_providers_list_has_the_catalog(tmp_path: Path) -> None:
    result = mailmatch(tmp_path, "providers", "list", "--json")
    assert result.returncode == 0, result.stderr
    ids = {p["id"] for p in json.loads(result.stdout)}
    assert len(ids) >= 30
    assert {"icloud", "yahoo", "gmx", "ionos", "zoho", "gmail", "outlook_com"} <= ids


def test_providers_show_icloud(tmp_path: Path) -> None:
    result = mailmatch(tmp_path, "providers", "show", "someone@me.com", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["provider"] == {"id": "icloud", "name": data["provider"]["name"]}
    assert data["source"] == "catalog"
    assert data["imap"] == {"host": "imap.mail.me.com", "port": 993, "security": "ssl"}
    assert data["smtp"]["host"] == "smtp.mail.me.com"
    assert data["username"] == "someone"  # Apple: the name part for IMAP
    assert data["app_password"]["required"] is True
    assert data["app_password"]["generate_url"].startswith("https://")
    assert data["app_password"]["steps"]


def test_providers_show_outlook_says_passwords_no_longer_work(tmp_path: Path) -> None:
    result = mailmatch(tmp_path, "providers", "show", "outlook.com")
    assert result.returncode == 0, result.stderr
    assert "not_supported" in result.stdout or "no longer" in result.stdout.lower()


def test_connect_test_change_password_and_remove(
    tmp_path: Path, dovecot: Any, smtp_server: Any
) -> None:
    home = tmp_path / "home"
    added = mailmatch(
        home,
        "accounts",
        "add",
        USER,
        "--name",
        "work",
        "--password-stdin",
        "--json",
        *server_flags(dovecot, smtp_server),
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stdout + added.stderr
    data = json.loads(added.stdout)
    assert data["saved"] is True and data["test"]["ok"] is True

    tested = mailmatch(home, "accounts", "test", "work", "--json")
    assert tested.returncode == 0, tested.stdout
    report = json.loads(tested.stdout)
    assert report["ok"] is True
    assert report["imap"]["ok"] and report["smtp"]["ok"]
    assert set(report["imap"]) >= {"ok", "code", "server_text", "advice"}

    listed = json.loads(mailmatch(home, "accounts", "list", "--json").stdout)
    assert [a["name"] for a in listed] == ["work"]

    changed = mailmatch(
        home, "accounts", "set-password", "work", "--password-stdin", stdin="not-the-password\n"
    )
    assert changed.returncode == 0, changed.stderr
    failing = mailmatch(home, "accounts", "test", "work", "--json")
    assert failing.returncode == 1
    report = json.loads(failing.stdout)
    assert report["ok"] is False
    assert report["imap"]["code"] == "auth_failed"
    assert "AUTHENTICATIONFAILED" in report["imap"]["server_text"]
    assert report["imap"]["advice"]

    mailmatch(home, "accounts", "set-password", "work", "--password-stdin", stdin=PASSWORD)
    assert mailmatch(home, "accounts", "test", "work").returncode == 0

    assert mailmatch(home, "accounts", "remove", "work").returncode == 0
    assert json.loads(mailmatch(home, "accounts", "list", "--json").stdout) == []


def test_a_failed_test_saves_nothing_and_explains(
    tmp_path: Path, dovecot: Any, smtp_server: Any
) -> None:
    result = mailmatch(
        tmp_path,
        "accounts",
        "add",
        USER,
        "--password-stdin",
        *server_flags(dovecot, smtp_server),
        stdin="wrong\n",
    )
    assert result.returncode == 1
    assert "auth_failed" in result.stdout
    assert "AUTHENTICATIONFAILED" in result.stdout
    assert "Not saved" in result.stdout
    listed = mailmatch(tmp_path, "accounts", "list", "--json")
    assert json.loads(listed.stdout) == []


def test_the_password_appears_nowhere(tmp_path: Path, dovecot: Any, smtp_server: Any) -> None:
    home = tmp_path / "home"
    secret = "qrst-uvwx-yzab-cdef"
    dovecot.add_user("secret@example.com", secret)
    smtp_server.users["secret@example.com"] = secret
    outputs = [
        mailmatch(
            home,
            "accounts",
            "add",
            "secret@example.com",
            "--name",
            "s",
            "--password-stdin",
            *server_flags(dovecot, smtp_server),
            stdin=secret,
        )
    ]
    outputs.append(mailmatch(home, "accounts", "test", "s", "--json"))
    outputs.append(mailmatch(home, "accounts", "test", "s"))
    outputs.append(mailmatch(home, "accounts", "list", "--json"))
    outputs.append(mailmatch(home, "accounts", "show", "s", "--json"))
    outputs.append(mailmatch(home, "keys", "rotate"))
    outputs.append(mailmatch(home, "accounts", "test", "s", "--json"))
    assert outputs[0].returncode == 0, outputs[0].stdout + outputs[0].stderr
    assert outputs[-1].returncode == 0, outputs[-1].stdout
    for out in outputs:
        assert secret not in out.stdout and secret not in out.stderr
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "mailmatch.log" for p in files)
    for path in files:
        assert secret.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("bad", ["not-an-address", ""])
def test_bad_address_is_a_clear_error(tmp_path: Path, bad: str) -> None:
    result = mailmatch(
        tmp_path,
        "accounts",
        "add",
        bad,
        "--password-stdin",
        "--no-test",
        "--imap-host",
        "x",
        "--smtp-host",
        "y",
        stdin="pw",
    )
    assert result.returncode == 1
    assert "error" in result.stderr


def test_an_untrusted_certificate_is_shown_with_the_flag_that_pins_it(
    tmp_path: Path, dovecot: Any, smtp_server: Any
) -> None:
    """Without --ca-file the test CA is unknown: the output gives the fingerprint to pin."""
    flags = server_flags(dovecot, smtp_server)[:-2]  # no --ca-file
    home = tmp_path / "home"
    text = mailmatch(home, "accounts", "add", USER, "--password-stdin", *flags, stdin=PASSWORD)
    assert text.returncode == 1
    assert "tls_error" in text.stdout
    colon = ":".join(dovecot.fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    assert f"SHA-256 {colon}" in text.stdout, text.stdout
    assert "issued to localhost by mailmatch test CA" in text.stdout
    assert f"  --cert-fingerprint {dovecot.fingerprint}\n" in text.stdout

    as_json = mailmatch(
        home, "accounts", "add", USER, "--password-stdin", "--json", *flags, stdin=PASSWORD
    )
    cert = json.loads(as_json.stdout)["test"]["imap"]["certificate"]
    assert cert["fingerprint_sha256"] == dovecot.fingerprint
    assert cert["subject"] == "localhost" and cert["issuer"] == "mailmatch test CA"
    assert "localhost" in cert["names"] and cert["can_pin"] is True
    assert cert["not_before"] < cert["not_after"]

    pinned = mailmatch(
        home, "accounts", "add", USER, "--password-stdin", *flags,
        "--cert-fingerprint", dovecot.fingerprint, stdin=PASSWORD,
    )  # fmt: skip
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    tested = json.loads(mailmatch(home, "accounts", "test", USER, "--json").stdout)
    assert tested["ok"] is True and tested["imap"]["certificate"] is None


LONG_IMAP = "imap.a-host-name-long-enough-to-be-cut-at-eighty-columns.example.org"
LONG_SMTP = "smtp.a-host-name-long-enough-to-be-cut-at-eighty-columns.example.org"


def long_named_account(home: Path) -> None:
    added = mailmatch(
        home, "accounts", "add", "someone@a-rather-long-domain-name.example.org",
        "--name", "work", "--password-stdin", "--no-test",
        "--imap-host", LONG_IMAP, "--smtp-host", LONG_SMTP, stdin="pw",
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr


def test_version_and_a_help_written_for_users(tmp_path: Path) -> None:
    shown = mailmatch(tmp_path, "--version")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == f"mailmatch {version('mailmatch')}\n"

    helped = run_mailmatch(tmp_path, "--help", env={"COLUMNS": "200"})
    assert "app passwords" in helped.stdout and "mailmatch accounts add" in helped.stdout
    assert "parse, call a service" not in helped.stdout  # the module's note for developers
    assert "--version" in helped.stdout


@pytest.mark.parametrize("flag", ["imap-host", "imap-port", "imap-security", "smtp-host",
                                  "smtp-port", "smtp-security"])  # fmt: skip
def test_every_server_flag_of_accounts_add_says_what_it_does(tmp_path: Path, flag: str) -> None:
    helped = run_mailmatch(tmp_path, "accounts", "add", "--help", env={"COLUMNS": "250"})
    line = next(x for x in helped.stdout.splitlines() if f"--{flag} " in x)
    described = re.search(rf"--{flag}\s+<[^>]+>\s+(\w.*?)\s*│", line)
    assert described is not None and len(described.group(1)) > 10, line


def test_accounts_show_gives_logins_trust_and_the_last_test(
    tmp_path: Path, dovecot: Any, smtp_server: Any
) -> None:
    home = tmp_path / "home"
    added = mailmatch(
        home, "accounts", "add", USER, "--name", "work", "--password-stdin",
        *server_flags(dovecot, smtp_server), stdin=PASSWORD,
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr

    shown = mailmatch(home, "accounts", "show", "work").stdout
    assert f"IMAP      localhost:{dovecot.imaps_port} (ssl), login {USER}" in shown, shown
    assert f"SMTP      localhost:{smtp_server.starttls_port} (starttls), login {USER}" in shown
    assert f"trusts    CA file {dovecot.ca_file}" in shown
    assert re.search(r"last test ok, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", shown), shown
    assert "┏" not in shown  # not the list's table row

    pinned = mailmatch(
        home, "accounts", "add", "pinned@example.com", "--name", "pinned", "--password-stdin",
        "--no-test", "--username", "pin-login", "--imap-host", "localhost",
        "--smtp-host", "localhost", "--cert-fingerprint", dovecot.fingerprint, stdin="pw",
    )  # fmt: skip
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    other = mailmatch(home, "accounts", "show", "pinned").stdout
    assert f"certificate pinned, SHA-256 {dovecot.fingerprint}" in other, other
    assert "login pin-login" in other
    assert "last test never (test it with: mailmatch accounts test pinned)" in other


def test_tables_are_not_cut_when_the_output_is_not_a_terminal(tmp_path: Path) -> None:
    long_named_account(tmp_path)
    piped = run_mailmatch(tmp_path, "accounts", "list", stdin="", env={"COLUMNS": ""})
    assert f"{LONG_IMAP}:993 ssl" in piped.stdout and "…" not in piped.stdout, piped.stdout
    assert "someone@a-rather-long-domain-name.example.org" in piped.stdout


def test_tables_fit_the_width_they_are_given_without_losing_text(tmp_path: Path) -> None:
    long_named_account(tmp_path)
    narrow = run_mailmatch(tmp_path, "accounts", "list", stdin="", env={"COLUMNS": "70"})
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 70
    assert "…" not in narrow.stdout  # long cells wrap onto more lines instead
    cells = "".join(line.split("│")[4].strip() for line in narrow.stdout.splitlines()[3:-1])
    assert f"{LONG_IMAP}:993 ssl" in cells, narrow.stdout

    done, terminal = run_on_terminal(tmp_path, "accounts", "list", terminal="stdout", columns=260)
    assert done.returncode == 0
    assert any(f"{LONG_IMAP}:993 ssl" in line for line in terminal.splitlines()), terminal


def test_a_certificate_for_another_name_says_which_name_to_use(tmp_path: Path, certs: Any) -> None:
    """--imap-host 127.0.0.1 with a certificate for localhost: the output names what the
    certificate is valid for and the flag that fixes it; no Bridge, no port nobody typed."""
    context = server_context(certs.name_only_cert, certs.name_only_key)
    with TLSServer(certs.name_only_cert, certs.name_only_key) as imap:
        smtp = ScriptedSMTP(tls_context=context).start()
        try:

            def add(host: str) -> subprocess.CompletedProcess[str]:
                return mailmatch(
                    tmp_path / "home", "accounts", "add", USER, "--password-stdin",
                    "--imap-host", host, "--imap-port", str(imap.port), "--imap-security", "ssl",
                    "--smtp-host", host, "--smtp-port", str(smtp.port), "--smtp-security", "ssl",
                    "--ca-file", str(certs.ca_file), stdin=PASSWORD,
                )  # fmt: skip

            by_address = add("127.0.0.1")
            out = by_address.stdout
            assert by_address.returncode == 1
            assert "tls_error" in out
            assert "valid for localhost" in out
            assert "run the command again with --imap-host localhost" in out
            assert "run the command again with --smtp-host localhost" in out
            assert "Check --imap-security" not in out and "Check --smtp-security" not in out
            assert "Bridge" not in out + by_address.stderr
            assert ":587" not in out and "other port" not in out
            assert "--cert-fingerprint" not in out  # the name is the fix, not a pin

            by_name = add("localhost")
            assert "tls_error" not in by_name.stdout, by_name.stdout
            assert "✓ tls" in by_name.stdout or "tls:" in by_name.stdout.lower()
        finally:
            smtp.stop()
