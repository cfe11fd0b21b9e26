"""The job kind ``webhooks.deliver``: send every workspace's due webhook deliveries.

Each delivery keeps its own retries and log (:mod:`mailmatch.webhooks.service`); the job is the
sweep that sends what is due, under one key so two schedulers do not sweep at once (each
delivery is claimed besides, so even two sweeps would send it once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mailmatch.accounts.vault import Vault
from mailmatch.jobs.model import Handler, Job, JobContext
from mailmatch.jobs.registry import registry
from mailmatch.net.guard import Guard
from mailmatch.webhooks.service import DeliveryReport, WebhookService

WEBHOOKS_DELIVER = "webhooks.deliver"

MakeService = Callable[[JobContext], WebhookService]


def deliver_job() -> Job:
    return Job(WEBHOOKS_DELIVER, {}, WEBHOOKS_DELIVER)


def service_from_context(ctx: JobContext) -> WebhookService:
    vault = Vault.from_settings(ctx.settings, ctx.db)
    return WebhookService(ctx.db, vault, guard=Guard.from_settings(ctx.settings))


def deliver_handler(make_service: MakeService) -> Handler:
    def deliver(ctx: JobContext, _args: dict[str, Any]) -> DeliveryReport:
        return make_service(ctx).deliver_due(all_workspaces=True)

    return deliver


registry.add(
    WEBHOOKS_DELIVER,
    deliver_handler(service_from_context),
    max_attempts=1,  # the deliveries retry themselves; the next tick sweeps again
    lease_seconds=600,
    description="POST the due webhook deliveries of every workspace.",
)
