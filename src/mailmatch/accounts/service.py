"""Accounts: add, test, list, change the password, remove, rotate the vault key.

The CLI and the web layer call this module and nothing below it, so every rule (test before
saving, never return the password, record the last test) holds for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from mailmatch.accounts.advice import Surface
from mailmatch.accounts.probe import (
    ConnectionTest,
    ProtocolResult,
    probe_imap,
    probe_smtp,
    smtp_fallbacks,
)
from mailmatch.accounts.tls import TlsOptions, normalize_fingerprint
from mailmatch.accounts.vault import Vault, rotate_keys
from mailmatch.config import Settings
from mailmatch.errors import AlreadyExists, Code, Diagnosis, InvalidInput, NotFound
from mailmatch.imap.session import Credentials, ProbeContext, Step
from mailmatch.net.guard import ProbePorts
from mailmatch.providers.app_passwords import PasswordCheck, check_password
from mailmatch.providers.catalog import Catalog, load_catalog
from mailmatch.providers.discovery_models import Discovery
from mailmatch.providers.models import Protocol, Provider, Security, Server
from mailmatch.store.db import Database, open_database
from mailmatch.store.models import DEFAULT_WORKSPACE_ID, Account
from mailmatch.timeutil import aware

DEFAULT_PORTS = {
    ("imap", Security.SSL): 993,
    ("imap", Security.STARTTLS): 143,
    ("imap", Security.PLAIN): 143,
    ("smtp", Security.SSL): 465,
    ("smtp", Security.STARTTLS): 587,
    ("smtp", Security.PLAIN): 587,
}


REFUSED = frozenset({Code.AUTH_FAILED, Code.APP_PASSWORD_REQUIRED, Code.OAUTH_REQUIRED})


@dataclass
class ServerOverride:
    """What the user typed for one protocol; unset parts come from discovery or defaults."""

    host: str | None = None
    port: int | None = None
    security: Security | None = None

    @property
    def given(self) -> bool:
        return self.host is not None or self.port is not None or self.security is not None

    def apply(self, protocol: str, base: Server | None) -> Server:
        host = self.host or (base.host if base else None)
        if host is None:
            raise InvalidInput(f"--{protocol}-host is needed: no settings were discovered")
        security = self.security or (base.security if base else Security.SSL)
        if self.port is not None:
            port = self.port
        elif base is not None and base.security is security and self.host in (None, base.host):
            port = base.port
        else:
            port = DEFAULT_PORTS[(protocol, security)]
        return Server(host, port, security)


@dataclass
class NewAccount:
    address: str
    name: str | None = None
    username: str | None = None
    imap: ServerOverride = field(default_factory=ServerOverride)
    smtp: ServerOverride = field(default_factory=ServerOverride)
    ca_file: str | None = None
    cert_fingerprint: str | None = None


@dataclass
class AccountView:
    """An account as shown to users: everything but the password."""

    name: str
    address: str
    username: str
    smtp_username: str
    provider_id: str | None
    provider_name: str | None
    source: str
    imap: Server
    smtp: Server
    ca_file: str | None
    cert_fingerprint: str | None
    password_set_at: datetime
    last_test_at: datetime | None
    last_test_ok: bool | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "username": self.username,
            "smtp_username": self.smtp_username,
            "provider": (
                {"id": self.provider_id, "name": self.provider_name} if self.provider_id else None
            ),
            "source": self.source,
            "imap": self.imap.to_json(),
            "smtp": self.smtp.to_json(),
            "ca_file": self.ca_file,
            "cert_fingerprint": self.cert_fingerprint,
            "password_set_at": _iso(self.password_set_at),
            "last_test_at": _iso(self.last_test_at),
            "last_test_ok": self.last_test_ok,
        }


@dataclass
class AddResult:
    account: AccountView | None  # None when the test failed and nothing was saved
    discovery: Discovery
    password: PasswordCheck
    test: ConnectionTest | None
    smtp_switched: Server | None = None  # the other SMTP port worked and was saved instead

    @property
    def saved(self) -> bool:
        return self.account is not None


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 with the UTC offset (SQLite hands back naive datetimes)."""
    value = aware(value)
    return value.isoformat() if value else None


def _now() -> datetime:
    return datetime.now(UTC)


class AccountService:
    """The accounts of one workspace; an account of another workspace does not exist here.

    The vault (the encryption keys) is shared by every workspace: it protects the data home,
    not one tenant from another.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        vault: Vault,
        catalog: Catalog | None = None,
        *,
        workspace_id: int = DEFAULT_WORKSPACE_ID,
    ) -> None:
        self.settings = settings
        self.db = db
        self.vault = vault
        self.catalog = catalog or load_catalog()
        self.workspace_id = workspace_id
        # The web sets this: a user's connection test may only reach mail server ports there
        # (the CLI is the machine owner's and may probe any port).
        self.probe_ports: ProbePorts | None = None

    @classmethod
    def open(
        cls, settings: Settings, *, workspace_id: int = DEFAULT_WORKSPACE_ID
    ) -> AccountService:
        db = open_database(settings)
        return cls(settings, db, Vault.from_settings(settings, db), workspace_id=workspace_id)

    def in_workspace(self, workspace_id: int) -> AccountService:
        """The same service (database, vault, catalog) for another workspace."""
        if workspace_id == self.workspace_id:
            return self
        other = AccountService(
            self.settings, self.db, self.vault, self.catalog, workspace_id=workspace_id
        )
        other.probe_ports = self.probe_ports
        return other

    # -- reading ---------------------------------------------------------------------------

    def _view(self, row: Account) -> AccountView:
        provider = self.catalog.get(row.provider_id) if row.provider_id else None
        return AccountView(
            name=row.name,
            address=row.address,
            username=row.username,
            smtp_username=row.smtp_username,
            provider_id=row.provider_id,
            provider_name=provider.name if provider else None,
            source=row.discovery_source,
            imap=Server(row.imap_host, row.imap_port, Security(row.imap_security)),
            smtp=Server(row.smtp_host, row.smtp_port, Security(row.smtp_security)),
            ca_file=row.ca_file,
            cert_fingerprint=row.cert_fingerprint,
            password_set_at=row.password_set_at,
            last_test_at=row.last_test_at,
            last_test_ok=row.last_test_ok,
        )

    def list(self) -> list[AccountView]:
        with self.db.read_session() as session:
            rows = session.scalars(
                select(Account)
                .where(Account.workspace_id == self.workspace_id)
                .order_by(Account.name)
            ).all()
            return [self._view(r) for r in rows]

    def get(self, name: str) -> AccountView:
        with self.db.read_session() as session:
            return self._view(self._row(session, name))

    def _row(self, session: Any, name: str) -> Account:
        row = session.scalar(
            select(Account).where(Account.workspace_id == self.workspace_id, Account.name == name)
        )
        if row is None:
            raise NotFound(
                f"no account named {name!r}", advice=["list them with: mailmatch accounts list"]
            )
        return row  # type: ignore[no-any-return]

    def password(self, name: str) -> str:
        """The decrypted password, for the importer. Never for display."""
        with self.db.read_session() as session:
            return self.vault.decrypt(self._row(session, name).secret)

    # -- discovery and testing ------------------------------------------------------------

    def resolve(self, request: NewAccount) -> Discovery:
        """Discovered settings with the user's overrides on top."""
        from mailmatch.providers.discovery import discover, manual_settings

        address = request.address.strip()
        if request.imap.host and request.smtp.host:
            imap = request.imap.apply("imap", None)
            smtp = request.smtp.apply("smtp", None)
            return manual_settings(address, imap, smtp, self.catalog)
        found = discover(address, self.settings, catalog=self.catalog)
        if not (request.imap.given or request.smtp.given):
            return found
        imap = request.imap.apply("imap", found.imap) if request.imap.given else found.imap
        smtp = request.smtp.apply("smtp", found.smtp) if request.smtp.given else found.smtp
        return replace(found, imap=imap, smtp=smtp)

    def _probe_context(
        self,
        provider: Provider | None,
        check: PasswordCheck | None,
        tls: TlsOptions,
        surface: Surface,
    ) -> ProbeContext:
        return ProbeContext(
            provider=provider,
            tls=tls,
            timeout=self.settings.connect_timeout,
            password_looks_like_app_password=check.looks_like_app_password if check else None,
            surface=surface,
            inspect_certificate=True,
        )

    def run_test(
        self,
        imap: Server,
        smtp: Server,
        username: str,
        smtp_username: str,
        password: str,
        ctx: ProbeContext,
    ) -> ConnectionTest:
        if self.probe_ports is not None:
            self.probe_ports.check(imap.host, imap.port)
            self.probe_ports.check(smtp.host, smtp.port)
        imap_result = probe_imap(imap, Credentials(username, password), ctx)
        refused = imap_result.diagnosis
        if refused is not None and refused.code in REFUSED:
            # The same password would be refused again: one more failed login at the provider
            # (Yahoo locks accounts after a few) and nothing learned.
            skipped = ProtocolResult(Protocol.SMTP, smtp)
            skipped.steps.append(Step("login", False, "not tried: IMAP refused the password"))
            skipped.diagnosis = Diagnosis(
                code=refused.code,
                message="Not tried: the IMAP server refused this password, and a second "
                "attempt would count as one more failed login.",
                advice=list(refused.advice),
            )
            return ConnectionTest(imap_result, skipped)
        smtp_result = probe_smtp(
            smtp,
            Credentials(smtp_username, password),
            ctx,
            fallbacks=[
                s
                for s in smtp_fallbacks(smtp, ctx.provider)
                if self.probe_ports is None or self.probe_ports.allows(s.port)
            ],
        )
        return ConnectionTest(imap_result, smtp_result)

    # -- writing ---------------------------------------------------------------------------

    def add(
        self,
        request: NewAccount,
        raw_password: str,
        *,
        test: bool = True,
        surface: Surface = Surface.CLI,
    ) -> AddResult:
        """Test, then save only when IMAP and some SMTP port work; ``surface`` words the advice."""
        if "@" not in request.address:
            raise InvalidInput(f"not an email address: {request.address!r}")
        name = request.name or request.address.strip().lower()
        with self.db.session() as session:
            taken = select(Account.id).where(
                Account.workspace_id == self.workspace_id, Account.name == name
            )
            if session.scalar(taken) is not None:
                raise AlreadyExists(
                    f"an account named {name!r} exists",
                    advice=["choose another --name, or replace its password with set-password"],
                )
        found = self.resolve(request)
        check = check_password(raw_password, found.provider)
        if not check.password:
            raise InvalidInput("the password is empty")
        username = request.username or found.username
        smtp_username = request.username or found.username_for(found.smtp)
        fingerprint = (
            normalize_fingerprint(request.cert_fingerprint) if request.cert_fingerprint else None
        )
        tls = TlsOptions(ca_file=request.ca_file, fingerprint=fingerprint)
        smtp = found.smtp
        result_test: ConnectionTest | None = None
        switched: Server | None = None
        if test:
            ctx = self._probe_context(found.provider, check, tls, surface)
            result_test = self.run_test(
                found.imap, smtp, username, smtp_username, check.password, ctx
            )
            working = result_test.smtp.working_server
            if result_test.imap.ok and working is not None and working != smtp:
                smtp = switched = working
            if not (result_test.imap.ok and working is not None):
                return AddResult(None, found, check, result_test)
        secret, key = self.vault.encrypt(check.password)
        row = Account(
            workspace_id=self.workspace_id,
            name=name,
            address=request.address.strip(),
            username=username,
            smtp_username=smtp_username,
            provider_id=found.provider.id if found.provider else None,
            discovery_source=str(found.source),
            imap_host=found.imap.host,
            imap_port=found.imap.port,
            imap_security=str(found.imap.security),
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            smtp_security=str(smtp.security),
            ca_file=request.ca_file,
            cert_fingerprint=fingerprint,
            secret=secret,
            key_id=key,
            password_set_at=_now(),
            created_at=_now(),
        )
        if result_test is not None:
            row.last_test_at = _now()
            row.last_test_ok = True
            row.last_test = result_test.to_json()
        with self.db.session() as session:
            session.add(row)
            session.flush()
            view = self._view(row)
        return AddResult(view, found, check, result_test, switched)

    def test(self, name: str, surface: Surface = Surface.CLI) -> ConnectionTest:
        """Test a saved account and remember the result; ``surface`` words the advice."""
        with self.db.session() as session:
            row = self._row(session, name)
            view = self._view(row)
            password = self.vault.decrypt(row.secret)
            ever_worked = bool(row.last_test_ok)
        provider = self.catalog.get(view.provider_id) if view.provider_id else None
        ctx = ProbeContext(
            provider=provider,
            tls=TlsOptions(ca_file=view.ca_file, fingerprint=view.cert_fingerprint),
            timeout=self.settings.connect_timeout,
            password_looks_like_app_password=check_password(
                password, provider
            ).looks_like_app_password,
            ever_worked=ever_worked,
            surface=surface,
            inspect_certificate=True,
        )
        result = self.run_test(
            view.imap, view.smtp, view.username, view.smtp_username, password, ctx
        )
        with self.db.session() as session:
            row = self._row(session, name)
            row.last_test_at = _now()
            row.last_test_ok = result.ok
            row.last_test = result.to_json()
        return result

    def set_password(self, name: str, raw_password: str) -> PasswordCheck:
        with self.db.session() as session:
            row = self._row(session, name)
            provider = self.catalog.get(row.provider_id) if row.provider_id else None
            check = check_password(raw_password, provider)
            if not check.password:
                raise InvalidInput("the password is empty")
            row.secret, row.key_id = self.vault.encrypt(check.password, replacing=row.key_id)
            row.password_set_at = _now()
            # A new password has not been tested: forget that the old one worked.
            row.last_test_ok = None
            return check

    def remove(self, name: str) -> None:
        with self.db.session() as session:
            session.delete(self._row(session, name))

    def rotate_keys(self) -> int:
        """Re-encrypt every secret (passwords, webhook secrets) with a new key; returns how many.

        See :func:`mailmatch.accounts.vault.rotate_keys`: every row stays readable from the
        key file at every instant, and a failed rotation leaves the key file as it was.
        Deliberately across every workspace: the keys are the data home's, and dropping an old
        key after re-encrypting one workspace would leave the others' secrets unreadable.
        """
        self.vault, count = rotate_keys(self.vault, self.db)
        return count
