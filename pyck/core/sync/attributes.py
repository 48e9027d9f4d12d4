"""What a resource type declares: the attributes a mapping may read (`resource_attributes`), and the step of a
mapping path it does not declare (`undeclared_step`).

A resource type declares its dataclass fields or annotated attributes, and its computed values (`@property`,
`functools.cached_property`). A type that declares none (`dict`, a class filled in `__init__`) cannot say:
the attributes are then those a sample record carries.

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any

__all__ = ["UndeclaredStep", "computed_attributes", "is_index", "resource_attributes", "undeclared_step"]


def resource_attributes(resource_type: Any, sample: Any = None) -> set[str] | None:
    """Return the attribute names of a resource type (dataclass fields or type hints, and its properties), else
    of a sample record (its keys, or its attributes and its class's properties); `None` when neither can say."""
    if isinstance(resource_type, type):
        names = _declared_fields(resource_type)
        if names:
            return names | computed_attributes(resource_type)
    if sample is not None:
        if isinstance(sample, dict):
            return {str(key) for key in sample}
        if dataclasses.is_dataclass(sample):
            return {f.name for f in dataclasses.fields(sample)} | computed_attributes(type(sample))
        if hasattr(sample, "__dict__"):
            return {name for name in vars(sample) if not name.startswith("_")} | computed_attributes(type(sample))
    return None


def _declared_fields(resource_type: type) -> set[str]:
    if dataclasses.is_dataclass(resource_type):
        return {f.name for f in dataclasses.fields(resource_type)}
    return {name for name in _hints(resource_type) if not name.startswith("_")}


def _hints(owner: Any) -> dict[str, Any]:
    """The type hints of a class or function, resolved where they can be (else as written)."""
    try:
        return typing.get_type_hints(owner)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        if not isinstance(owner, type):
            return dict(getattr(owner, "__annotations__", {}))
        hints: dict[str, Any] = {}
        for klass in reversed(owner.__mro__):
            hints.update(getattr(klass, "__annotations__", {}))
        return hints


def computed_attributes(resource_type: type) -> set[str]:
    """The public computed values of a class: its `property` and `functools.cached_property` attributes."""
    return {
        name
        for klass in resource_type.__mro__
        if klass is not object
        for name, value in vars(klass).items()
        if not name.startswith("_") and isinstance(value, (property, functools.cached_property))
    }


def _attribute_hint(resource_type: type, name: str) -> Any:
    """The type the attribute `name` of `resource_type` holds, from its annotation or its property's return
    annotation, without `Annotated` and without `None` in a union with one other type; `None` when it does not
    say."""
    found: Any = None
    for klass in resource_type.__mro__:
        value = vars(klass).get(name)
        if isinstance(value, property):
            found = _hints(value.fget).get("return") if value.fget is not None else None
            break
        if isinstance(value, functools.cached_property):
            found = _hints(value.func).get("return")
            break
    else:
        found = _hints(resource_type).get(name)
    return _unwrapped(found)


def _unwrapped(hint: Any) -> Any:
    """`hint` without `Annotated[...]`, and `X` for `X | None`; `None` for a union of several types."""
    if typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        classes = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        hint = classes[0] if len(classes) == 1 else None
    return hint


def _class_of(hint: Any) -> type | None:
    """The class `hint` names, or `None` for a generic (`list[X]`), a union, or no hint."""
    return hint if isinstance(hint, type) and typing.get_origin(hint) is None else None


def _element_hint(hint: Any) -> Any:
    """The type of the items of a `list[X]`, `Sequence[X]` or `tuple[X, ...]` hint; `None` for anything else."""
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin in (list, collections.abc.Sequence, collections.abc.MutableSequence) and len(arguments) == 1:
        return _unwrapped(arguments[0])
    if origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        return _unwrapped(arguments[0])
    return None


def is_index(step: str) -> bool:
    """True when the step of a mapping path is a list index (`"0"`, `"-1"`), which reads an item of a list."""
    digits = step[1:] if step.startswith("-") else step
    return digits.isascii() and digits.isdigit()


@dataclass(frozen=True)
class UndeclaredStep:
    """The step of a mapping path that the type it is read from does not declare."""

    path: str
    """The whole path (`"latest_party.nmae"`)."""
    step: str
    """The step not declared (`"nmae"`)."""
    before: str
    """The steps before it (`"latest_party"`; `""` for the first step)."""
    owner: type
    """The type the step is read from (the resource type, or the type of the attribute before it)."""
    declared: frozenset[str]
    """What `owner` declares."""

    @property
    def owner_name(self) -> str:
        return getattr(self.owner, "__qualname__", None) or repr(self.owner)

    def describe(self) -> str:
        """`'nmae'`, or `'nmae' of latest_party`: the step, and where it is read when it is not the first."""
        return f"{self.step!r} of {self.before}" if self.before else repr(self.step)

    def suggestion(self) -> str:
        """The close matches among the declared attributes, then all of them."""
        close = difflib.get_close_matches(self.step, sorted(self.declared), n=3)
        did_you_mean = f"Did you mean {' or '.join(map(repr, close))}? " if close else ""
        return f"{did_you_mean}{self.owner_name} declares: {', '.join(sorted(self.declared))}."


def undeclared_step(resource_type: Any, path: str) -> UndeclaredStep | None:
    """Return the first step of the dotted `path` that the type it is read from does not declare, following the
    annotations of the steps before it (a list index, `identifiers.0`, reads the item type of a `list[X]` or
    `tuple[X, ...]`); `None` when every step is declared, or when a type on the way cannot say (see
    `resource_attributes`: a dict, an unannotated class, an attribute typed `Any` or as a union)."""
    hint: Any = resource_type
    steps = path.split(".")
    for position, step in enumerate(steps):
        if is_index(step):
            hint = _element_hint(hint)  # the item's type: the next step is read from it
            continue
        current = _class_of(hint)
        declared = resource_attributes(current) if current is not None else None
        if current is None or declared is None:
            return None
        if step not in declared:
            before = ".".join(steps[:position])
            return UndeclaredStep(path=path, step=step, before=before, owner=current, declared=frozenset(declared))
        if position + 1 < len(steps):
            hint = _attribute_hint(current, step)
    return None
