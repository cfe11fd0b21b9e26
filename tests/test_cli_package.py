"""The command line is a package that is assembled, not one whose modules import each other.

Its command modules import only ``mailmatch.cli.common`` (and the renderers) of the CLI, and
``mailmatch.cli`` imports them (that no module anywhere imports itself back, the imports inside
functions included, is ``tests/test_import_cycles.py``).
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from tests.cli import environment
from tests.test_import_cycles import import_graph


def test_command_modules_use_only_the_shared_helpers_and_the_renderers() -> None:
    graph = import_graph()
    allowed = {"mailmatch.cli.common", "mailmatch.cli.render", "mailmatch.cli.render_mail"}
    for name, targets in graph.items():
        if name.startswith("mailmatch.cli.") and name not in allowed:
            assert {t for t in targets if t.startswith("mailmatch.cli")} <= allowed, name


def test_the_console_script_still_names_mailmatch_cli_main() -> None:
    (script,) = importlib.metadata.entry_points(group="console_scripts", name="mailmatch")
    assert script.value == "mailmatch.cli:main"
    from mailmatch.cli import app, main

    assert script.load() is main
    assert app.info.help is not None and app.info.help.startswith("Connect your mailboxes")


def test_help_starts_without_loading_the_database_layer(tmp_path: Path) -> None:
    """``mailmatch --help`` (and a typo'd command) answers at once: SQLAlchemy and the store
    load only when a command runs that needs them."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mailmatch", "--help"],
        capture_output=True,
        text=True,
        env=environment(tmp_path / "home"),
        timeout=120,
    )
    assert run.returncode == 0 and "Usage:" in run.stdout
    loaded = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines()}
    assert "mailmatch.cli.record_edits" in loaded  # every command module was imported
    assert {"sqlalchemy", "mailmatch.store.db", "mailmatch.matching.service"} & loaded == set()
