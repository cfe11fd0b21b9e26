"""The REST API under /api/v1. Every route takes an ``ApiUser`` and works in its workspace."""

from fastapi import APIRouter

from mailmatch.web.api import (
    accounts,
    auth,
    imports,
    jobs,
    messages,
    providers,
    records,
    settings,
    stats,
)

router = APIRouter()
for module in (auth, providers, accounts, imports, jobs, messages, records, settings, stats):
    router.include_router(module.router)
