"""The code's layout rules that import-linter cannot see (its contracts, in `pyproject.toml`, see the rest).

- No module imports another module's underscore names: an underscore means private to its module.
- No module is longer than about a screenful of concepts (600 lines); `records.py` is one concept and may be.
  `pagination.py` is over it and waits to be split (listed in `LONG_FOR_NOW`, with its size today, so that it
  cannot grow further unnoticed).
- An import inside a function says why on its line or the line above: Django needs most of them (models may
  not be imported before the app registry is ready), the others import an optional dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pyck"
MAX_LINES = 600
LONG_ALLOWED = {"core/records.py"}
LONG_FOR_NOW = {"core/pagination.py": 738}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        yield path.relative_to(PACKAGE).as_posix(), path


def _module_name(relative: str) -> str:
    parts = ["pyck", *relative.removesuffix(".py").split("/")]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join([*base, node.module] if node.module else base)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_module_imports_another_modules_underscore_names() -> None:
    found = []
    for relative, path in _modules():
        module = _module_name(relative)
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _resolve(module, node, path.name == "__init__.py")
                if not source.startswith("pyck"):
                    continue
                names = [alias.name for alias in node.names if _private(alias.name)]
                if any(_private(part) for part in source.split(".")):
                    names.append(f"(module {source})")
                found += [f"{relative}:{node.lineno} imports {name} from {source}" for name in names]
            elif isinstance(node, ast.Import):
                found += [
                    f"{relative}:{node.lineno} imports {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("pyck") and any(_private(p) for p in alias.name.split("."))
                ]
    assert found == []


def test_no_module_is_longer_than_a_screenful_of_concepts() -> None:
    long = {
        relative: lines
        for relative, path in _modules()
        if relative not in LONG_ALLOWED
        and (lines := len(path.read_text().splitlines())) > LONG_FOR_NOW.get(relative, MAX_LINES)
    }
    assert long == {}


def _function_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    yield inner


def _says_why(lines: list[str], lineno: int) -> bool:
    """Whether the import on line `lineno` has a comment on its line, or above it and the imports (and the
    `try:` or `if` opening them) that precede it."""
    if "#" in lines[lineno - 1]:
        return True
    index = lineno - 2
    while index >= 0:
        line = lines[index].strip()
        if line.startswith("#"):
            return True
        if not line.startswith(("from ", "import ", "try:", "if ")):
            return False
        index -= 1
    return False


def test_every_import_inside_a_function_says_why() -> None:
    unexplained = []
    for relative, path in _modules():
        lines = path.read_text().splitlines()
        for node in set(_function_imports(ast.parse("\n".join(lines), str(path)))):
            if not _says_why(lines, node.lineno):
                unexplained.append(f"{relative}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert sorted(unexplained) == []


@pytest.mark.parametrize("relative", ["core/redaction.py", "core/exceptions.py"])
def test_the_leaves_import_nothing_else_from_pyck(relative: str) -> None:
    path = PACKAGE / relative
    tree = ast.parse(path.read_text(), str(path))
    module = _module_name(relative)
    imported = {
        _resolve(module, node, False)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level or (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pyck"))
    }
    allowed = {"pyck.core.redaction"} if relative == "core/exceptions.py" else set()
    assert imported <= allowed
