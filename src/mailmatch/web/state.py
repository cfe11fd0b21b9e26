"""What every request handler needs, built once per app: settings, database, vault, catalog.

Services are cheap objects over these, made per request for the caller's workspace, so that a
handler can never reach another workspace's data by forgetting a filter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from mailmatch.accounts.service import AccountService
from mailmatch.accounts.vault import Vault
from mailmatch.config import Settings
from mailmatch.providers.catalog import Catalog, load_catalog
from mailmatch.store.db import Database, open_database
from mailmatch.store.models import DEFAULT_WORKSPACE_ID
from mailmatch.sync.runner import ImportRunner
from mailmatch.users.service import UserService
from mailmatch.web.ratelimit import SignInLimiter
from mailmatch.web.runs import RunRegistry


@dataclass
class AppState:
    settings: Settings
    db: Database
    vault: Vault
    catalog: Catalog
    users: UserService
    limiter: SignInLimiter = field(default_factory=SignInLimiter)
    runs: RunRegistry = field(init=False)
    secure_cookies: bool = False

    def __post_init__(self) -> None:
        self.runs = RunRegistry(self.db, self.settings, self.runner)

    @classmethod
    def open(cls, settings: Settings) -> AppState:
        db = open_database(settings)
        vault = Vault.from_settings(settings, db)
        return cls(settings, db, vault, load_catalog(), UserService(db))

    def accounts(self, workspace_id: int) -> AccountService:
        return AccountService(
            self.settings, self.db, self.vault, self.catalog, workspace_id=workspace_id
        )

    def accounts_for_scheduler(self) -> AccountService:
        """The scheduler runs every workspace's due imports; each run scopes itself by the
        import's own workspace."""
        return self.accounts(DEFAULT_WORKSPACE_ID)

    def runner(self, workspace_id: int) -> ImportRunner:
        return ImportRunner(self.accounts(workspace_id))


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.mailmatch
    return state
