"""Users, their passwords (argon2), API tokens and browser sessions.

Tokens and session cookies are random strings of which only a SHA-256 is stored: they are
long and random, so a fast hash is enough, and a lookup by hash costs one indexed SELECT.
Passwords are people-chosen, so they get argon2, which is slow on purpose.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Row, Select, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from mailmatch.errors import AlreadyExists, InvalidInput, NotFound
from mailmatch.store.db import Database
from mailmatch.store.models import DEFAULT_WORKSPACE_ID, Workspace
from mailmatch.store.users import ApiToken, User, WebSession
from mailmatch.store.workspaces import create_workspace, workspace_id
from mailmatch.timeutil import aware, now

MIN_PASSWORD = 10
SESSION_LIFETIME = timedelta(days=14)
TOKEN_PREFIX = "mm_"

_hasher = PasswordHasher()
# Verified against when the email is unknown, so that a wrong address takes as long as a
# wrong password and sign-in does not tell which addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _iso(value: datetime | None) -> str | None:
    moment = aware(value)
    return moment.isoformat() if moment is not None else None


def _clean_email(email: str) -> str:
    cleaned = email.strip().lower()
    local, _, domain = cleaned.partition("@")
    if not local or "." not in domain or " " in cleaned:
        raise InvalidInput(f"not an email address: {email!r}")
    return cleaned


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD} characters")


@dataclass(frozen=True)
class UserView:
    id: int
    email: str
    workspace_id: int
    workspace: str
    is_admin: bool

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "email": self.email,
            "workspace": self.workspace,
            "is_admin": self.is_admin,
        }


@dataclass(frozen=True)
class SessionInfo:
    user: UserView
    csrf_token: str


@dataclass(frozen=True)
class NewSession:
    cookie: str
    csrf_token: str
    expires_at: datetime


# The user and workspace columns a token or session lookup joins in (labelled: the token's
# own ``id`` must not be shadowed).
_USER_COLUMNS = (
    User.id.label("user_id"),
    User.email.label("user_email"),
    User.workspace_id.label("user_workspace_id"),
    Workspace.name.label("user_workspace"),
    User.is_admin.label("user_is_admin"),
)


def _user_of(row: Row[Any]) -> UserView:
    return UserView(
        row.user_id, row.user_email, row.user_workspace_id, row.user_workspace, row.user_is_admin
    )


class UserService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- users --------------------------------------------------------------------------

    def create(
        self,
        email: str,
        password: str,
        *,
        workspace: str | None = None,
        admin: bool | None = None,
    ) -> UserView:
        """A new user. Without ``workspace`` the first user joins the ``default`` workspace
        (the one the CLI works in) and is an admin; later users get a workspace of their own,
        so nobody sees another's mail unless they are put in the same workspace on purpose."""
        email = _clean_email(email)
        check_password_strength(password)
        with self.db.session() as session:
            if session.scalar(select(User.id).where(User.email == email)) is not None:
                raise AlreadyExists(f"a user {email!r} exists")
            first = session.scalar(select(func.count(User.id))) == 0
        if workspace is not None:
            try:
                ws = workspace_id(self.db, workspace)
            except NotFound:
                ws = create_workspace(self.db, workspace)
        elif first:
            ws = DEFAULT_WORKSPACE_ID
        else:
            ws = create_workspace(self.db, email)
        with self.db.session() as session:
            user = User(
                email=email,
                password_hash=_hasher.hash(password),
                workspace_id=ws,
                is_admin=first if admin is None else admin,
            )
            session.add(user)
            session.flush()
            return self._view(session, user)

    @staticmethod
    def _view(session: Session, user: User) -> UserView:
        name = session.scalar(select(Workspace.name).where(Workspace.id == user.workspace_id))
        return UserView(user.id, user.email, user.workspace_id, name or "", user.is_admin)

    def list(self) -> list[UserView]:
        with self.db.read_session() as session:
            users = session.scalars(select(User).order_by(User.email)).all()
            return [self._view(session, u) for u in users]

    def get(self, email: str) -> UserView:
        with self.db.read_session() as session:
            return self._view(session, self._row(session, email))

    @staticmethod
    def _row(session: Session, email: str) -> User:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise NotFound(f"no user {email!r}", advice=["see `mailmatch users list`"])
        return user

    def set_password(self, email: str, password: str) -> None:
        """A new password also ends every browser session of the user."""
        check_password_strength(password)
        with self.db.session() as session:
            user = self._row(session, email)
            user.password_hash = _hasher.hash(password)
            session.execute(delete(WebSession).where(WebSession.user_id == user.id))

    def remove(self, email: str) -> None:
        with self.db.session() as session:
            session.delete(self._row(session, email))

    def authenticate(self, email: str, password: str) -> UserView | None:
        """The user, or None for a wrong address or password (the caller cannot tell which)."""
        with self.db.session() as session:
            user = session.scalar(select(User).where(User.email == email.strip().lower()))
            stored = user.password_hash if user is not None else _DUMMY_HASH
            try:
                _hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return None
            if user is None:
                return None
            if _hasher.check_needs_rehash(stored):
                user.password_hash = _hasher.hash(password)
            user.last_login_at = now()
            return self._view(session, user)

    # -- API tokens ---------------------------------------------------------------------

    def create_token(self, email: str, name: str = "cli") -> str:
        """A new token, shown once: only its hash is kept."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.session() as session:
            user = self._row(session, email)
            session.add(
                ApiToken(
                    user_id=user.id,
                    name=name,
                    token_hash=digest(token),
                    prefix=token[: len(TOKEN_PREFIX) + 6],
                )
            )
        return token

    def tokens(self, email: str) -> builtins.list[dict[str, object]]:
        with self.db.read_session() as session:
            user = self._row(session, email)
            rows = session.scalars(
                select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
            ).all()
            return [
                {
                    "id": t.id,
                    "name": t.name,
                    "prefix": t.prefix,
                    "created_at": _iso(t.created_at),
                    "last_used_at": _iso(t.last_used_at),
                }
                for t in rows
            ]

    def revoke_token(self, email: str, token_id: int) -> None:
        with self.db.session() as session:
            user = self._row(session, email)
            done = session.execute(
                delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
            )
            if not getattr(done, "rowcount", 0):
                raise NotFound(f"no token {token_id} for {email}")

    def user_for_token(self, token: str) -> UserView | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        row = self._by_secret(ApiToken, token, ApiToken.id, ApiToken.last_used_at)
        if row is None:
            return None
        last = aware(row.last_used_at)
        if last is None or now() - last > timedelta(minutes=5):
            # Written at most every few minutes: a write per API call would contend with
            # imports for SQLite's write lock.
            with self.db.session() as session:
                token_row = session.get(ApiToken, row.id)
                if token_row is not None:
                    token_row.last_used_at = now()
        return _user_of(row)

    def _by_secret(
        self, table: type[ApiToken | WebSession], secret: str, *columns: InstrumentedAttribute[Any]
    ) -> Row[Any] | None:
        """``columns`` of the API token or browser session whose secret this is, looked up by
        its hash (the secret itself is never stored), with its user and workspace.

        Every request comes through here: one read, which on SQLite never waits for the
        write lock an import holds while it stores a batch."""
        query: Select[Any] = select(*columns, *_USER_COLUMNS)
        with self.db.read() as conn:
            return conn.execute(
                query.select_from(table)
                .join(User, User.id == table.user_id)
                .join(Workspace, Workspace.id == User.workspace_id)
                .where(table.token_hash == digest(secret))
            ).first()

    # -- browser sessions ---------------------------------------------------------------

    def start_session(self, user_id: int, lifetime: timedelta = SESSION_LIFETIME) -> NewSession:
        cookie = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now() + lifetime
        with self.db.session() as session:
            session.execute(delete(WebSession).where(WebSession.expires_at < now()))
            session.add(
                WebSession(
                    token_hash=digest(cookie), user_id=user_id, csrf_token=csrf, expires_at=expires
                )
            )
        return NewSession(cookie, csrf, expires)

    def session_for(self, cookie: str) -> SessionInfo | None:
        row = self._by_secret(WebSession, cookie, WebSession.csrf_token, WebSession.expires_at)
        if row is None:
            return None
        expires = aware(row.expires_at)
        if expires is None or expires < now():
            return None
        return SessionInfo(_user_of(row), row.csrf_token)

    def end_session(self, cookie: str) -> None:
        with self.db.session() as session:
            session.execute(delete(WebSession).where(WebSession.token_hash == digest(cookie)))
