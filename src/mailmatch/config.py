"""Settings from the environment, with the data home as the one place mailmatch writes to.

Every setting is an environment variable so that tests (and containers) can point mailmatch at
local servers without a config file: ``MAILMATCH_HOME``, ``MAILMATCH_DATABASE_URL``,
``MAILMATCH_ISPDB_URL``, ``MAILMATCH_DNS_SERVER``, ``MAILMATCH_SECRET_KEYS``,
``MAILMATCH_WORKSPACE`` (the workspace the CLI works in), ``MAILMATCH_ALLOW_INTERNAL`` and
``MAILMATCH_ALLOW_PORTS`` (what an administrator opens to requests made for users),
``MAILMATCH_TRUSTED_PROXIES`` (the reverse proxies whose ``X-Forwarded-For`` the web app believes),
``MAILMATCH_MAIL_BACKEND`` (how mail is sent: ``smtp``, ``recording`` or a dotted path).
"""

from __future__ import annotations

import ipaddress
import os
import stat
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
    # IPs/CIDRs of reverse proxies in front of ``serve``; empty: X-Forwarded-For is ignored
    trusted_proxies: tuple[str, ...] = ()
    # How mail is sent (``mailmatch.outbound``): smtp, recording or a dotted path to a class
    mail_backend: str = "smtp"
    # Who runs background jobs in ``serve`` and ``worker``: "threads" (a pool) or "inline"
    # (the scheduler's own thread); see ``mailmatch.jobs.runners``.
    job_runner: str = "threads"
    job_threads: int = 4

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


def parse_trusted_proxies(values: list[str] | str) -> tuple[str, ...]:
    """IP addresses and CIDR networks, comma separated or one per item, checked and normalised.

    A typo must not pass silently (a value that is no address would trust nobody, and the
    sign-in limit would lock out everyone behind the proxy again), and ``*`` is refused: it
    would let any client choose the address its failed sign-ins are counted against.
    """
    items = values.split(",") if isinstance(values, str) else values
    found: list[str] = []
    for item in (part.strip() for value in items for part in value.split(",")):
        if not item:
            continue
        if item == "*":
            raise ConfigError(
                "a trusted proxy must be an address or a network, not '*': anyone could then "
                "pick the address their sign-ins count against",
                advice=["give the proxy's address, e.g. 127.0.0.1 or 10.0.0.0/8"],
            )
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(
                f"not an IP address or network: {item!r} (trusted proxies)",
                advice=["e.g. MAILMATCH_TRUSTED_PROXIES=127.0.0.1,::1 or 10.0.0.0/8"],
            ) from None
        found.append(str(network.network_address) if network.num_addresses == 1 else str(network))
    return tuple(dict.fromkeys(found))


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
        trusted_proxies=parse_trusted_proxies(env.get("MAILMATCH_TRUSTED_PROXIES", "")),
        mail_backend=env.get("MAILMATCH_MAIL_BACKEND", "").strip() or "smtp",
        job_runner=env.get("MAILMATCH_JOB_RUNNER", "").strip() or "threads",
        job_threads=_job_threads(env.get("MAILMATCH_JOB_THREADS", "4")),
    )


def _job_threads(text: str) -> int:
    try:
        return max(1, int(text))
    except ValueError:
        raise ConfigError("MAILMATCH_JOB_THREADS must be a whole number") from None


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def ensure_home(settings: Settings) -> Path:
    """Create the data home, readable by its owner only: it holds the key and the database."""
    settings.home.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    return settings.home


def private_dir(settings: Settings, path: Path) -> Path:
    """Create a folder inside the data home, and each missing folder above it, 0700.

    ``mkdir(parents=True)`` gives the parents the umask's mode (usually 0755) whatever the
    ``mode`` says: the ISPDB cache would then be listable by every user of the machine.
    """
    ensure_home(settings)
    missing = []
    level = path
    while not level.exists() and level != settings.home and level.parent != level:
        missing.append(level)
        level = level.parent
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and 0600 before a library opens it with the umask's mode (SQLite
    and ``logging`` create files 0644: the database holds every message, the log the server
    answers), or tighten an existing one. Its content is never touched."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    os.close(fd)
    tighten(path)
    return path


def tighten(path: Path) -> None:
    """Take away what group and others may do with an existing file of ours (one made by an
    older mailmatch, or by SQLite before the database file was made private)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        path.chmod(mode & 0o700)


def home_open_warning(settings: Settings) -> str | None:
    """A warning when users other than the owner can enter or list the data home (it is
    0700 only when mailmatch made it; a home made by hand, or a parent like ``/srv``, is the
    user's choice, so this says so instead of changing it)."""
    try:
        mode = stat.S_IMODE(settings.home.stat().st_mode)
    except FileNotFoundError:
        return None
    if not mode & 0o077:
        return None
    return (
        f"the data home {settings.home} is open to other users (mode {mode:o}): it holds the "
        f"database, the log and the key file; make it private with: chmod 700 {settings.home}"
    )
