"""REST API: connected mailboxes. Test before saving, never return a password.

``POST /accounts`` is ``mailmatch accounts add``: it tests IMAP and SMTP with the password, saves
only when both work (201), and otherwise answers 422 with the test, whose failed step carries the
diagnosis code, the server's own words and the advice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mailmatch.accounts.advice import Surface
from mailmatch.accounts.certificate import PeerCertificate
from mailmatch.accounts.probe import ConnectionTest, ProtocolResult
from mailmatch.accounts.service import AccountService, AccountView, NewAccount, ServerOverride
from mailmatch.accounts.wizard import try_connection, valid_fingerprint
from mailmatch.errors import InvalidInput
from mailmatch.net.guard import ProbePorts
from mailmatch.providers.guide import help_url
from mailmatch.providers.models import Security
from mailmatch.timeutil import aware
from mailmatch.web.api.providers import NOT_FOUND, ApiError, DiscoveryOut, ProviderRef, ServerOut
from mailmatch.web.security import ApiUser, Principal, State
from mailmatch.web.state import AppState

router = APIRouter(tags=["accounts"])

Name = Annotated[str, Path(min_length=1, max_length=320, description="The account's name")]
_HOST = r"^[^\s/@]+$"


class ServerIn(BaseModel):
    host: str | None = Field(default=None, min_length=1, max_length=253, pattern=_HOST)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Security | None = None

    def override(self) -> ServerOverride:
        return ServerOverride(self.host, self.port, self.security)


class ConnectIn(BaseModel):
    """What a connection needs; servers left out are discovered, as in the wizard."""

    address: str = Field(min_length=3, max_length=320, examples=["anna@example.org"])
    password: str = Field(min_length=1, max_length=1024, description="Never returned")
    username: str | None = Field(default=None, min_length=1, max_length=320)
    imap: ServerIn | None = None
    smtp: ServerIn | None = None
    cert_fingerprint: str | None = Field(
        default=None, max_length=200, description="SHA-256 of a self-signed server certificate"
    )

    def request(self, name: str | None = None) -> NewAccount:
        if name is not None and "/" in name:
            raise InvalidInput("an account name cannot contain '/'")
        return NewAccount(
            address=self.address,
            name=name,
            username=self.username,
            imap=self.imap.override() if self.imap else ServerOverride(),
            smtp=self.smtp.override() if self.smtp else ServerOverride(),
            cert_fingerprint=valid_fingerprint(self.cert_fingerprint),
        )


class AccountIn(ConnectIn):
    name: str | None = Field(default=None, min_length=1, max_length=200)


class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=1024, description="Never returned")


class StepOut(BaseModel):
    name: str
    ok: bool
    detail: str


class CertificateOut(BaseModel):
    """The certificate a server presented when verification failed, read without logging in."""

    fingerprint_sha256: str = Field(
        description="SHA-256 of the DER certificate, 64 hex digits: the cert_fingerprint to pin"
    )
    subject: str | None = Field(description="The subject's common name")
    issuer: str | None = Field(description="The issuer's common name")
    names: list[str] = Field(description="The DNS names and addresses it is valid for")
    not_before: datetime
    not_after: datetime
    self_signed: bool
    expired: bool
    can_pin: bool = Field(
        description="False at a catalog provider's public servers: there a certificate error "
        "means interception, and pinning would be wrong"
    )

    @classmethod
    def of(cls, cert: PeerCertificate) -> CertificateOut:
        return cls(
            fingerprint_sha256=cert.fingerprint,
            subject=cert.subject,
            issuer=cert.issuer,
            names=list(cert.names),
            not_before=cert.not_before,
            not_after=cert.not_after,
            self_signed=cert.self_signed,
            expired=cert.expired,
            can_pin=cert.can_pin,
        )


class ProtocolOut(BaseModel):
    ok: bool
    host: str
    port: int
    security: Security
    steps: list[StepOut]
    code: str | None = Field(description="The diagnosis code when the protocol failed")
    message: str | None
    server_text: str | None = Field(description="The server's own words, verbatim")
    advice: list[str]
    certificate: CertificateOut | None = Field(
        default=None, description="When TLS verification failed: what the server presented"
    )
    help_url: str | None
    classified_by: str | None
    capabilities: list[str]
    alternative: ProtocolOut | None = Field(
        default=None, description="The other SMTP port, tried after a transport failure"
    )

    @classmethod
    def of(cls, r: ProtocolResult, provider_id: str | None) -> ProtocolOut:
        d = r.diagnosis if not r.ok else None
        return cls(
            ok=r.ok,
            host=r.server.host,
            port=r.server.port,
            security=r.server.security,
            steps=[StepOut(name=s.name, ok=s.ok, detail=s.detail) for s in r.steps],
            code=str(d.code) if d else None,
            message=d.message if d else None,
            server_text=d.server_text if d else None,
            advice=list(d.advice) if d else [],
            certificate=CertificateOut.of(d.certificate) if d and d.certificate else None,
            help_url=help_url(d.code, provider_id) if d else None,
            classified_by=r.classified_by,
            capabilities=r.capabilities,
            alternative=cls.of(r.alternative, provider_id) if r.alternative else None,
        )


class TestOut(BaseModel):
    ok: bool
    imap: ProtocolOut
    smtp: ProtocolOut

    @classmethod
    def of(cls, test: ConnectionTest, provider_id: str | None) -> TestOut:
        return cls(
            ok=test.imap.ok and test.smtp.working_server is not None,
            imap=ProtocolOut.of(test.imap, provider_id),
            smtp=ProtocolOut.of(test.smtp, provider_id),
        )


class AccountOut(BaseModel):
    name: str
    address: str
    username: str
    smtp_username: str
    provider: ProviderRef | None
    source: str
    imap: ServerOut
    smtp: ServerOut
    cert_fingerprint: str | None
    password_set_at: datetime | None
    last_test_at: datetime | None
    last_test_ok: bool | None

    @classmethod
    def of(cls, v: AccountView) -> AccountOut:
        return cls(
            name=v.name,
            address=v.address,
            username=v.username,
            smtp_username=v.smtp_username,
            provider=ProviderRef(id=v.provider_id, name=v.provider_name or v.provider_id)
            if v.provider_id
            else None,
            source=v.source,
            imap=ServerOut.of(v.imap),
            smtp=ServerOut.of(v.smtp),
            cert_fingerprint=v.cert_fingerprint,
            password_set_at=aware(v.password_set_at),
            last_test_at=aware(v.last_test_at),
            last_test_ok=v.last_test_ok,
        )


class TrialOut(BaseModel):
    ok: bool
    discovery: DiscoveryOut
    username: str
    password_warnings: list[str] = Field(description="Sentences; never contain the password")
    looks_like_app_password: bool | None
    test: TestOut


class AddOut(BaseModel):
    saved: bool
    account: AccountOut | None
    discovery: DiscoveryOut
    password_warnings: list[str]
    test: TestOut | None
    smtp_switched: ServerOut | None = Field(description="The SMTP port that worked instead")


class PasswordOut(BaseModel):
    account: AccountOut
    password_warnings: list[str]
    looks_like_app_password: bool | None


def probing_accounts(state: AppState, principal: Principal) -> AccountService:
    """The caller's accounts, for a connection test: a web user may only make the server
    connect to mail server ports (plus the ones ``MAILMATCH_ALLOW_PORTS`` opens), not use it
    to probe any port of any host."""
    service = state.accounts(principal.workspace_id)
    service.probe_ports = ProbePorts.parse(state.settings.allow_ports)
    return service


def _pid(found: DiscoveryOut) -> str | None:
    return found.provider.id if found.provider else None


@router.get("/accounts", response_model=list[AccountOut])
def accounts(principal: ApiUser, state: State) -> list[AccountOut]:
    return [AccountOut.of(v) for v in state.accounts(principal.workspace_id).list()]


@router.post(
    "/accounts",
    response_model=AddOut,
    status_code=201,
    responses={
        409: {"model": ApiError, "description": "An account with that name exists"},
        422: {
            "model": AddOut | ApiError,
            "description": "The connection test failed and nothing was saved (the body is the "
            "test), or the request is invalid (the body is an error)",
        },
    },
)
def add_account(body: AccountIn, principal: ApiUser, state: State) -> Any:
    result = probing_accounts(state, principal).add(body.request(body.name), body.password)
    found = DiscoveryOut.of(result.discovery)
    out = AddOut(
        saved=result.saved,
        account=AccountOut.of(result.account) if result.account else None,
        discovery=found,
        password_warnings=result.password.warnings,
        test=TestOut.of(result.test, _pid(found)) if result.test else None,
        smtp_switched=ServerOut.of(result.smtp_switched) if result.smtp_switched else None,
    )
    if not result.saved:
        return JSONResponse(out.model_dump(mode="json"), status_code=422)
    return out


@router.post(
    "/accounts/test",
    response_model=TrialOut,
    responses={422: {"model": ApiError, "description": "The request is invalid"}},
)
def test_new(body: ConnectIn, principal: ApiUser, state: State) -> TrialOut:
    """Test settings and a password without saving anything (the wizard's step 2).

    The advice is worded as for ``POST /accounts`` (the CLI's terms: ``--cert-fingerprint`` is the
    body's ``cert_fingerprint``), not for the wizard's buttons, which an API client has not got.
    """
    trial = try_connection(
        probing_accounts(state, principal), body.request(), body.password, Surface.CLI
    )
    found = DiscoveryOut.of(trial.discovery)
    return TrialOut(
        ok=trial.ok,
        discovery=found,
        username=trial.username,
        password_warnings=trial.password.warnings,
        looks_like_app_password=trial.password.looks_like_app_password,
        test=TestOut.of(trial.test, _pid(found)),
    )


@router.get("/accounts/{name}", response_model=AccountOut, responses=NOT_FOUND)
def account(name: Name, principal: ApiUser, state: State) -> AccountOut:
    return AccountOut.of(state.accounts(principal.workspace_id).get(name))


@router.delete("/accounts/{name}", status_code=204, responses=NOT_FOUND)
def remove_account(name: Name, principal: ApiUser, state: State) -> None:
    state.accounts(principal.workspace_id).remove(name)


@router.post("/accounts/{name}/test", response_model=TestOut, responses=NOT_FOUND)
def test_account(name: Name, principal: ApiUser, state: State) -> TestOut:
    service = probing_accounts(state, principal)
    view = service.get(name)
    return TestOut.of(service.test(name), view.provider_id)


@router.put("/accounts/{name}/password", response_model=PasswordOut, responses=NOT_FOUND)
def set_password(name: Name, body: PasswordIn, principal: ApiUser, state: State) -> PasswordOut:
    """Replace the password (untested until the next test; nothing is tested here)."""
    service = state.accounts(principal.workspace_id)
    check = service.set_password(name, body.password)
    return PasswordOut(
        account=AccountOut.of(service.get(name)),
        password_warnings=check.warnings,
        looks_like_app_password=check.looks_like_app_password,
    )
