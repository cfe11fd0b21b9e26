"""What a pipeline step is: a name, a description, what it has not done yet, and a run.

Steps are plain objects built per workspace from a :class:`StepContext`; they know nothing of
the engine, the file readers or the other steps. A step must tolerate ids it cannot find (a
message deleted meanwhile) and being run again on ids it already handled (a catch-up after a
crash between its work and the bookkeeping).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mailmatch.matching.service import MatchService
from mailmatch.pipeline.backlog import Backlog
from mailmatch.store.db import Database


@runtime_checkable
class Step(Protocol):
    name: str
    description: str

    def pending(self, limit: int = 1000) -> list[int]:
        """Ids of stored messages this step has not handled yet, oldest first."""
        ...

    def run(self, message_ids: list[int]) -> None:
        """Handle these messages; raise to have them retried later."""
        ...


@dataclass(frozen=True)
class StepContext:
    """What a step factory gets: the workspace it works in and the shared services."""

    db: Database
    workspace_id: int
    matches: MatchService  # shared, so a configured normaliser is the one every step uses
    backlog: Backlog


class BacklogStep:
    """A step whose progress is the pipeline's backlog (every built-in step's is)."""

    name: str = ""
    description: str = ""

    def __init__(self, context: StepContext) -> None:
        self.context = context

    def pending(self, limit: int = 1000) -> list[int]:
        return self.context.backlog.pending(self.name, limit)

    def run(self, message_ids: list[int]) -> None:
        raise NotImplementedError
