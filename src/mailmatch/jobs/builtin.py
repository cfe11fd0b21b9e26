"""The registry with every job kind mailmatch defines: importing this module registers them.

Kinds live with their capability (``import.run`` in :mod:`mailmatch.sync.jobs`,
``webhooks.deliver`` in :mod:`mailmatch.webhooks.jobs`); a new capability adds its module here.
"""

from __future__ import annotations

from mailmatch.jobs.registry import Registry, registry
from mailmatch.sync import jobs as sync_jobs  # noqa: F401  (registers import.run)
from mailmatch.webhooks import jobs as webhook_jobs  # noqa: F401  (registers webhooks.deliver)


def builtin_registry() -> Registry:
    return registry
