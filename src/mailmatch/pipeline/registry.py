"""The named, ordered list of pipeline steps.

A capability adds its step here (or calls :meth:`Registry.add` from its own package at start
up); tests register their own with :meth:`Registry.registered`. The order is the order the
steps run in, and a step may rely on what the steps before it wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mailmatch.pipeline.base import Step, StepContext
from mailmatch.pipeline.steps import MatchStep, WebhooksStep
from mailmatch.sorting.step import SortStep

StepFactory = Callable[[StepContext], Step]


class Registry:
    def __init__(self) -> None:
        self._steps: dict[str, StepFactory] = {}

    def add(self, name: str, factory: StepFactory, *, before: str | None = None) -> None:
        """Add a step at the end, or just before the step called ``before``."""
        if name in self._steps:
            raise ValueError(f"a pipeline step called {name!r} exists already")
        if before is None:
            self._steps[name] = factory
            return
        if before not in self._steps:
            raise ValueError(f"no pipeline step called {before!r}")
        items = list(self._steps.items())
        at = [n for n, _f in items].index(before)
        self._steps = dict([*items[:at], (name, factory), *items[at:]])

    def remove(self, name: str) -> None:
        self._steps.pop(name)

    @contextmanager
    def registered(
        self, name: str, factory: StepFactory, *, before: str | None = None
    ) -> Iterator[None]:
        """The step is part of every pipeline built inside the block (for tests)."""
        self.add(name, factory, before=before)
        try:
            yield
        finally:
            self.remove(name)

    def names(self) -> list[str]:
        return list(self._steps)

    def build(self, context: StepContext) -> list[Step]:
        steps = []
        for name, factory in self._steps.items():
            step = factory(context)
            if step.name != name:
                raise ValueError(f"pipeline step {name!r} calls itself {step.name!r}")
            steps.append(step)
        return steps


#: The pipeline every import runs.
STEPS = Registry()
STEPS.add(MatchStep.name, MatchStep)
STEPS.add(SortStep.name, SortStep)
STEPS.add(WebhooksStep.name, WebhooksStep)
