"""A real PostgreSQL for tests: its own cluster in a temp dir, on a free loopback port.

Debian's ``postgresql`` package provides the binaries; the cluster runs as the ``postgres`` system
user (PostgreSQL refuses to run as root) with trust authentication on 127.0.0.1 only.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers.tcp import free_port

_counter = itertools.count(1)


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def available() -> bool:
    return _bin("initdb") is not None


class Postgres:
    def __init__(self) -> None:
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError(
                "PostgreSQL not installed: run `bash .ci/run` or `apt-get install postgresql`"
            )
        self.pg_ctl = pg_ctl
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="mmpg-"))
        self.data = self.dir / "data"
        user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if user is not None:
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        self._as = ["runuser", "-u", "postgres", "--"] if user is not None else []
        subprocess.run(
            [*self._as, initdb, "-D", str(self.data), "-U", "mm", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [
                *self._as,
                pg_ctl,
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.dir / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://mm@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(_counter)}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=mm dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self._as, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)
