"""A user connects an address nobody lists: SRV records lead to the servers, the test passes.

Everything a real user's run touches is real here: the local DNS server answers the SRV
lookups, Dovecot and aiosmtpd answer the logins, and the CLI runs as a separate process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.providers.conftest import LocalDns, LocalHttp


def test_accounts_add_discovers_servers_by_srv_and_saves(
    tmp_path: Path, dns_server: LocalDns, http_server: LocalHttp, dovecot: Any, smtp_server: Any
) -> None:
    dns_server.add_srv("_imaps._tcp.example.com", "localhost", dovecot.imaps_port)
    dns_server.add_srv("_submission._tcp.example.com", "localhost", smtp_server.starttls_port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILMATCH_")}
    env |= {
        "MAILMATCH_HOME": str(tmp_path / "home"),
        "MAILMATCH_DNS_SERVER": dns_server.address,
        "MAILMATCH_ISPDB_URL": http_server.url("/v1.1/"),
        "MAILMATCH_CONNECT_TIMEOUT": "3",
    }
    result = subprocess.run(
        [sys.executable, "-m", "mailmatch", "accounts", "add", "user@example.com",
         "--password-stdin", "--ca-file", str(dovecot.ca_file), "--json"],
        input=dovecot.users["user@example.com"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["saved"] is True
    assert data["discovery"]["source"] == "srv"
    assert data["account"]["imap"] == {
        "host": "localhost",
        "port": dovecot.imaps_port,
        "security": "ssl",
    }
    assert data["account"]["smtp"]["port"] == smtp_server.starttls_port
    assert ("_imaps._tcp.example.com.", "SRV") in {(n, t) for n, t, _ in dns_server.queries}
