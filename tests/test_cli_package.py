"""The command line is a package that is assembled, not one whose modules import each other.

Its command modules import only ``mailmatch.cli.common`` (and the renderers) of the CLI, and
``mailmatch.cli`` imports them: no module of the CLI can reach itself again through imports,
counting the imports inside functions too (those are there for start-up time, never to dodge
a cycle).
"""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mailmatch
from tests.cli import environment

SRC = Path(mailmatch.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    """Module -> the mailmatch modules it imports (``from pkg import mod`` names ``pkg.mod``)."""
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in files else base)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A chain of imports from ``start`` back to itself, if there is one."""
    seen: set[str] = set()
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    while stack:
        name, path = stack.pop()
        for target in sorted(graph.get(name, ())):
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None


def test_no_module_of_the_command_line_imports_itself_back() -> None:
    graph = import_graph()
    cli_modules = sorted(m for m in graph if m == "mailmatch.cli" or m.startswith("mailmatch.cli"))
    cycles = [c for m in cli_modules if (c := cycle_through(graph, m))]
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)
    assert "mailmatch.cli.common" in cli_modules  # the walk did see the package


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
