"""docs/guarantees.md names the tests that prove each promise: every name there must be a real test, and every
test of the fault suite must be named there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "guarantees.md"
FAULTS = Path(__file__).resolve().parent

_REFERENCE = re.compile(r"`(?P<module>(?:tests/[\w/]+/)?test_\w+\.py)::(?P<test>test_\w+)`")


def _tests_in(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def _references() -> set[tuple[Path, str]]:
    found = set()
    for match in _REFERENCE.finditer(PAGE.read_text(encoding="utf-8")):
        module = match["module"]
        path = ROOT / module if "/" in module else FAULTS / module
        found.add((path, match["test"]))
    return found


def test_every_test_the_guarantees_page_names_exists() -> None:
    missing = [
        f"{path.relative_to(ROOT)}::{name}"
        for path, name in _references()
        if not path.exists() or name not in _tests_in(path)
    ]
    assert not missing, f"docs/guarantees.md names tests that do not exist: {sorted(missing)}"


def test_every_fault_test_is_named_on_the_guarantees_page() -> None:
    named = _references()
    unlisted = [
        f"{module.name}::{name}"
        for module in sorted(FAULTS.glob("test_*.py"))
        if module.name != Path(__file__).name
        for name in sorted(_tests_in(module))
        if (module, name) not in named
    ]
    assert not unlisted, f"docs/guarantees.md should say what these tests prove: {unlisted}"
