"""Settings from the environment, with the data home as the one place mailmatch writes to.

Every setting is an environment variable so that tests (and containers) can point mailmatch at
local servers without a config file: ``MAILMATCH_HOME``, ``MAILMATCH_DATABASE_URL``,
``MAILMATCH_ISPDB_URL``, ``MAILMATCH_DNS_SERVER``, ``MAILMATCH_SECRET_KEYS``,
``MAILMATCH_WORKSPACE`` (the workspace the CLI works in), ``MAILMATCH_ALLOW_INTERNAL`` and
``MAILMATCH_ALLOW_PORTS`` (what an administrator opens to requests made for users).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

from mailmatch.errors import ConfigError

DEFAULT_ISPDB_URL = "https://autoconfig.thunderbird.net/v1.1/"
DEFAULT_WORKSPACE = "default"  # the name of the workspace every pre-workspace row went to


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    ispdb_url: str
    dns_server: tuple[str, int] | None
    secret_keys: tuple[str, ...]  # from the environment; empty means "use the key file"
    connect_timeout: float
    autoconfig_https_only: bool
    fetch_batch: int = 500  # messages per UID FETCH and per committed batch
    attachment_cap: int = 25 * 1024 * 1024  # larger attachments stay only inside the raw message
    workspace: str = DEFAULT_WORKSPACE  # by name; the CLI resolves it to an id
    # Internal hosts and networks that webhooks and autoconfig fetches may reach (see
    # ``mailmatch.net.guard``), and ports beyond the mail ports the web connection test may probe.
    allow_internal: tuple[str, ...] = ()
    allow_ports: str = ""

    @property
    def key_file(self) -> Path:
        return self.home / "secret.key"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def log_file(self) -> Path:
        return self.home / "mailmatch.log"


def parse_host_port(value: str, default_port: int = 53) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST`` or ``[v6]:PORT``."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.lstrip(":")
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, ""
    try:
        return host, int(port) if port else default_port
    except ValueError:
        raise ConfigError(f"not a HOST:PORT value: {value!r}") from None


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    home = Path(env.get("MAILMATCH_HOME") or user_data_dir("mailmatch", appauthor=False))
    database_url = env.get("MAILMATCH_DATABASE_URL") or f"sqlite:///{home / 'mailmatch.db'}"
    ispdb = env.get("MAILMATCH_ISPDB_URL") or DEFAULT_ISPDB_URL
    if not ispdb.endswith("/"):
        ispdb += "/"
    dns = env.get("MAILMATCH_DNS_SERVER")
    keys = tuple(k.strip() for k in env.get("MAILMATCH_SECRET_KEYS", "").split(",") if k.strip())
    try:
        timeout = float(env.get("MAILMATCH_CONNECT_TIMEOUT", "15"))
    except ValueError:
        raise ConfigError("MAILMATCH_CONNECT_TIMEOUT must be a number of seconds") from None
    try:
        batch = int(env.get("MAILMATCH_FETCH_BATCH", "500"))
    except ValueError:
        raise ConfigError("MAILMATCH_FETCH_BATCH must be a whole number") from None
    try:
        cap_mb = float(env.get("MAILMATCH_ATTACHMENT_MAX_MB", "25"))
    except ValueError:
        raise ConfigError("MAILMATCH_ATTACHMENT_MAX_MB must be a number of megabytes") from None
    return Settings(
        home=home,
        database_url=database_url,
        ispdb_url=ispdb,
        dns_server=parse_host_port(dns) if dns else None,
        secret_keys=keys,
        connect_timeout=timeout,
        autoconfig_https_only=env.get("MAILMATCH_AUTOCONFIG_HTTP", "") != "1",
        fetch_batch=max(1, batch),
        attachment_cap=int(cap_mb * 1024 * 1024),
        workspace=env.get("MAILMATCH_WORKSPACE", "").strip() or DEFAULT_WORKSPACE,
        allow_internal=tuple(
            e.strip() for e in env.get("MAILMATCH_ALLOW_INTERNAL", "").split(",") if e.strip()
        ),
        allow_ports=env.get("MAILMATCH_ALLOW_PORTS", "").strip(),
    )


def ensure_home(settings: Settings) -> Path:
    """Create the data home, readable by its owner only: it holds the key and the database."""
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return settings.home
