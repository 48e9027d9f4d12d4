"""A griffe extension for the API pages: render pyck's docstrings, and its attribute comments, as Markdown.

pyck's docstrings use Sphinx roles (``:class:`~pyck.core.rest.RestDatasource```) and reST links
(```postcodes.io <https://postcodes.io/>`_``), which mkdocstrings would print as they are. This turns a role
into inline code (``~`` keeps the last component, as Sphinx does) and a reST link into a Markdown link.
Loaded by mkdocstrings (``extensions`` in ``mkdocs.yml``); the docs build only, never imported by pyck.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

# :class:`~a.b.C`, :meth:`C.m`, :data:`x`, :py:func:`f` …
_ROLE = re.compile(r":(?:py:)?[a-z]+:`(?P<tilde>~?)(?P<target>[^`<]+?)(?:\s*<(?P<explicit>[^>`]+)>)?`")
# `text <https://…>`_
_LINK = re.compile(r"`(?P<text>[^`<]+?)\s*<(?P<url>https?://[^>`]+)>`__?")
# "text::" ending a line introduces a literal block in reST; Markdown shows the indented block as code anyway.
_LITERAL = re.compile(r"(?<=\S)::$", re.MULTILINE)
# A lone "Example::" would become a Google "Example:" section, which renders its code as prose.
_EXAMPLE = re.compile(r"^(?P<indent>[ \t]*)Examples?::$", re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    target = match["target"].strip()
    if match["explicit"]:
        return f"`{target}`"
    if match["tilde"]:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def to_markdown(text: str) -> str:
    """Return ``text`` with Sphinx roles as inline code, reST links as Markdown links, and ``::`` as ``:``."""
    text = _LINK.sub(lambda m: f"[{m['text'].strip()}]({m['url']})", text)
    text = _ROLE.sub(_role, text)
    text = _EXAMPLE.sub(lambda m: f"{m['indent']}For example:", text)
    return _LITERAL.sub(":", text)


def comment_above(lines: list[str], lineno: int) -> str | None:
    """The ``#:`` or ``#`` comment block right above line ``lineno`` (1-based) of ``lines``, without the marks."""
    found: list[str] = []
    index = lineno - 2
    while index >= 0 and lines[index].strip().startswith("#"):
        found.append(re.sub(r"^#:?\s?", "", lines[index].strip()))
        index -= 1
    if not found or any(line.startswith("---") for line in found):  # "# --- Section ---" banners
        return None
    return "\n".join(reversed(found))


class RstRoles(griffe.Extension):
    """Rewrites every docstring as it is loaded, and gives attributes their comment as a docstring.

    pyck documents attributes with a comment above them (``#:`` or ``#``), which griffe does not read.
    """

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring; for an attribute without one, use the comment above it."""
        if obj.docstring is None and obj.is_attribute and obj.lineno:
            try:
                lines = obj.module.lines
            except Exception:  # noqa: BLE001 (no source: nothing to read)
                lines = []
            comment = comment_above(lines, obj.lineno) if lines else None
            if comment:
                obj.docstring = griffe.Docstring(comment, lineno=obj.lineno, parent=obj)
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
