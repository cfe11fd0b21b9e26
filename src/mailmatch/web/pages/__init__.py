"""Server-rendered pages. Not part of the OpenAPI document: the API under /api/v1 is."""

from fastapi import APIRouter

from mailmatch.web.pages import (
    auth,
    connect,
    dashboard,
    help,
    imports,
    messages,
    records,
    settings,
)

router = APIRouter(include_in_schema=False)
for module in (auth, dashboard, connect, imports, messages, records, settings, help):
    router.include_router(module.router)
