"""The store's modules import mailmatch at module level only: a function-level import there
would be a cycle dodged (that there is no cycle at all is ``tests/test_import_cycles.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

STORE = Path(__file__).resolve().parents[2] / "src" / "mailmatch" / "store"


def _modules() -> dict[str, ast.Module]:
    return {
        f"mailmatch.store.{path.stem}": ast.parse(path.read_text())
        for path in sorted(STORE.glob("*.py"))
    }


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def test_store_modules_import_mailmatch_only_at_module_level() -> None:
    inside_functions = [
        f"{name}: {target}"
        for name, tree in _modules().items()
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        for target in _imported(node)[:1]
        if target.startswith("mailmatch")
    ]
    assert inside_functions == []
