"""The pipeline's ``sort`` step: every stored batch is sorted as it arrives, after matching
(rules can ask whether a message matched a contact, company or deal)."""

from __future__ import annotations

from mailmatch.pipeline.base import BacklogStep
from mailmatch.sorting.service import SortService


class SortStep(BacklogStep):
    name = "sort"
    description = "put each message in a category by rules, signals and the learned model"

    def run(self, message_ids: list[int]) -> None:
        SortService(self.context.db, self.context.workspace_id).sort_messages(message_ids)
