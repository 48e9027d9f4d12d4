"""pyck's docstrings are Markdown (Google style), which mkdocstrings renders as they are.

No Sphinx roles (:func:`x`), reST links (`text <https://...>`_), reST literal-block markers (a line ending in
"::") or `#:` attribute comments: the API pages are built without any docstring-rewriting extension, so
such markup would be printed verbatim. An attribute is documented by a string right after it.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pyck"

_ROLE = re.compile(r":(?:py:)?[a-z]+:`")
_REST_LINK = re.compile(r"`[^`<]+<[^>`]+>`__?")
_LITERAL_MARK = re.compile(r"\S::[ \t]*$", re.MULTILINE)


def _is_string(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def docstrings(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every docstring of a module: module, class and function docstrings, and attribute
    docstrings (a string statement right after an assignment)."""
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if not isinstance(body, list) or not body or not isinstance(body[0], ast.stmt):
            continue
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and _is_string(body[0]):
            yield body[0].lineno, body[0].value.value  # type: ignore[attr-defined]
        for before, stmt in zip(body, body[1:]):
            if _is_string(stmt) and isinstance(before, (ast.Assign, ast.AnnAssign)):
                yield stmt.lineno, stmt.value.value  # type: ignore[attr-defined]


def problems(source: str) -> list[str]:
    """What in ``source`` is reST/Sphinx markup rather than Markdown, one line each."""
    found = []
    for line, text in docstrings(source):
        for pattern, what in ((_ROLE, "a Sphinx role"), (_REST_LINK, "a reST link"), (_LITERAL_MARK, "'::'")):
            match = pattern.search(text)
            if match:
                found.append(f"line {line}: docstring with {what}: {match.group().strip()!r}")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and token.string.startswith("#:"):
            found.append(f"line {token.start[0]}: a '#:' comment (give the attribute a docstring after it)")
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.glob("**/*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_docstrings_are_markdown(path: Path) -> None:
    found = problems(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)}:\n" + "\n".join(found)


def test_the_check_finds_sphinx_markup() -> None:
    source = '''
"""Reads `postcodes.io <https://postcodes.io/>`_."""

#: The root of the API.
BASE = "x"


class C:
    size = 3
    """At most :data:`BASE` items, like this::"""

    def f(self):
        """Return a :class:`~pyck.core.rest.RestDatasource`."""
'''
    kinds = [re.search(r"a Sphinx role|a reST link|'::'|'#:'", problem).group() for problem in problems(source)]
    assert kinds == ["a reST link", "a Sphinx role", "'::'", "a Sphinx role", "'#:'"]
    assert problems('"""A `RestDatasource`, see [postcodes.io](https://postcodes.io/):\n\n```python\nx = 1\n```\n"""') == []


def test_the_docs_build_rewrites_no_docstring() -> None:
    """mkdocstrings renders the docstrings as written: no griffe extension, no docs/_ext build code."""
    assert not (ROOT / "docs" / "_ext").exists(), "docs/_ext is back: write the docstrings in Markdown instead"
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "docs/_ext" not in config and "/_ext/" not in config
    # markdown_extensions is top-level; an indented `extensions:` is an option of the mkdocstrings handler.
    assert not re.search(r"^[ \t]+extensions[ \t]*:", config, re.MULTILINE), "mkdocs.yml loads a griffe extension"
