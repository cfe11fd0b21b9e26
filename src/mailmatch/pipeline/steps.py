"""The built-in steps: matching, then the webhooks that announce what it found."""

from __future__ import annotations

from mailmatch.pipeline.base import BacklogStep
from mailmatch.webhooks.service import enqueue_stored


class MatchStep(BacklogStep):
    """Link each new message to its contacts, companies and deals, with the reasons."""

    name = "match"
    description = "link messages to contacts, companies and deals, and say why"

    def run(self, message_ids: list[int]) -> None:
        self.context.matches.match_messages(message_ids)


class WebhooksStep(BacklogStep):
    """Queue ``message.matched`` / ``message.unmatched`` deliveries from the stored matches
    (delivering them is the scheduler's job, never the import's)."""

    name = "webhooks"
    description = "queue webhook deliveries for matched and unmatched messages"

    def run(self, message_ids: list[int]) -> None:
        ctx = self.context
        enqueue_stored(ctx.db, message_ids, ctx.workspace_id)
