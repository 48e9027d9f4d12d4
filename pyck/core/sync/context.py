"""What one run remembers between batches and models: `RunContext` (id maps, pending rows, unresolvable
references) and `SeenRows` (the rows a listing found unchanged).

Part of the sync engine; the docs page "How a sync works" describes the whole.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models

from .lookups import among, is_indexed

__all__ = ["RunContext", "SeenRows"]

# Most rows per model whose external id -> pk a run keeps once found (about 100 bytes each).
_MAX_KNOWN = 100_000

# Rows in an external id -> pk map past which a run says it had to load it (the external id has no index).
_LARGE_ID_MAP = 100_000

# Most duplicated external ids per model a run remembers (it counts them all).
_MAX_DUPLICATES = 1_000

_Key = tuple[str, Any]  # (model label, external id converted to the column's type)


class RunContext:
    """What one run (`sync_model` or `sync_models`) remembers between batches and models."""

    def __init__(self, *, concurrent: bool = False, load_id_maps: bool = True) -> None:
        # Other processes may write the same models meanwhile (a push, or the listing of a model pushes write):
        # each batch then takes the write lock first (see `locks`), and external ids the id maps lack are looked
        # up again, since another process may have written them since the maps were loaded.
        self.concurrent = concurrent
        # False: look unindexed external ids up batch by batch instead of loading the table's whole
        # external_id -> pk map once (a push writes a few rows of a table, a listing reads all of them).
        self.load_id_maps = load_id_maps
        # References that could not be resolved this run, with the reason: never fetched twice.
        self.unresolvable: dict[_Key, str] = {}
        # Rows being written by the current top-level batch (all models): lets records point at rows of the
        # same batch, and stops cycles (A embeds B embeds A) from recursing forever.
        self.pending: dict[_Key, uuid.UUID] = {}
        # How many times a related model's datasource ``get`` was called.
        self.fetches = 0
        # external_id -> pk of every row, per model whose external_id column has no index: loaded with one
        # query the first time the run needs it, so that each batch reads rows by primary key instead of
        # scanning the table for ``external_id IN (...)``.
        self._id_maps: dict[type[models.Model], dict[Any, uuid.UUID]] = {}
        # external_id -> pk of rows already found or written this run, per model whose external_id is indexed
        # (every model, in a run that loads no id maps):
        # references repeat from batch to batch (members of the same few parties), so most are not looked up
        # twice. Bounded (_MAX_KNOWN per model); a row deleted meanwhile fails its batch's foreign key check,
        # and the batch is then redone with every map forgotten.
        self._known: dict[type[models.Model], dict[Any, uuid.UUID]] = {}
        # Models whose rows found unchanged must be remembered as seen (a model being synced, whose deletion
        # detection needs every row the listing included): in a :class:`SeenRows`, or, when the value is
        # ``None``, by stamping their ``last_sync_time`` (durable, for a run whose deletions another process
        # decides). Unchanged rows of other models are left alone.
        self.confirmations: dict[type[models.Model], SeenRows | None] = {}
        # What the run should tell about the id maps it loaded: see :meth:`take_notes`.
        self._notes: list[str] = []
        # External ids found on more than one row of a model (the first `_MAX_DUPLICATES` of them), and how many
        # there were: reported at the end of the run (see `duplicates.report_duplicates`).
        self.duplicates: dict[type[models.Model], set[Any]] = {}
        self.duplicate_counts: dict[type[models.Model], int] = {}
        # (model, "created" or "updated", pk) of the rows the current batch wrote: announced once it commits
        # (see `changes`).
        self.changed: list[tuple[type[models.Model], str, Any]] = []

    def pks_by_external_id(
        self, model: type[models.Model], field: models.Field[Any, Any], keys: list[Any]
    ) -> dict[Any, uuid.UUID]:
        """Return `{external id: pk}` for the rows of `model` among `keys`, in at most one query (or one per
        part of `keys` within the database's limit on query parameters)."""
        if is_indexed(model, field) or not self.load_id_maps:
            known = self._known.setdefault(model, {})
            unknown = [key for key in keys if key not in known]
            found = {key: known[key] for key in keys if key in known}
            if unknown:
                looked_up: dict[Any, uuid.UUID] = {}
                for condition in among(model, field, unknown):
                    for key, pk in model._base_manager.filter(condition).values_list(field.attname, "pk"):
                        if looked_up.get(key, pk) != pk:
                            self.note_duplicate(model, key)
                        looked_up[key] = pk
                found.update(looked_up)
                self._remember(known, looked_up)
            return found
        known = self._id_maps.get(model)
        if known is None:
            known = self._id_maps[model] = {}
            for key, pk in model._base_manager.order_by().values_list(field.attname, "pk").iterator(chunk_size=10_000):
                if known.setdefault(key, pk) != pk and key is not None:
                    self.note_duplicate(model, key)
            if len(known) > _LARGE_ID_MAP:
                self._notes.append(
                    f"{model._meta.label}: this run read the external id -> primary key map of all {len(known):,} "
                    f"rows into memory, because {model._meta.label}.{field.name} has no index. Add db_index=True "
                    "(or unique=True) to the field to look each batch's rows up by index instead (pyck.W010, "
                    "shown by manage.py check --deploy)."
                )
        found = {key: known[key] for key in keys if key in known}
        unknown = [key for key in keys if key not in known] if self.concurrent else []
        if unknown:
            for condition in among(model, field, unknown):
                for key, pk in model._base_manager.filter(condition).values_list(field.attname, "pk"):
                    if known.setdefault(key, pk) != pk:
                        self.note_duplicate(model, key)
                    found.setdefault(key, known[key])
        return found

    def take_notes(self) -> list[str]:
        """Return what the run should tell about the id maps loaded since the last call (a large table whose
        external id has no index), and forget it."""
        notes, self._notes = self._notes, []
        return notes

    def note_duplicate(self, model: type[models.Model], key: Any) -> None:
        """Note that `model` has several rows of external id `key` (reported at the end of the run)."""
        keys = self.duplicates.setdefault(model, set())
        if key not in keys:
            self.duplicate_counts[model] = self.duplicate_counts.get(model, 0) + 1
            if len(keys) < _MAX_DUPLICATES:
                keys.add(key)

    def learn(self, model: type[models.Model], pks: dict[Any, uuid.UUID]) -> None:
        """Note rows just inserted into `model`."""
        known = self._id_maps.get(model)
        if known is not None:
            for key, pk in pks.items():
                known.setdefault(key, pk)
        if model in self._known:
            self._remember(self._known[model], pks)

    @staticmethod
    def _remember(known: dict[Any, uuid.UUID], pks: dict[Any, uuid.UUID]) -> None:
        if len(known) + len(pks) <= _MAX_KNOWN:
            known.update(pks)

    def forget(self, model: type[models.Model] | None = None) -> None:
        """Drop the id maps of `model` (every model's if `None`): after a rollback or a deletion."""
        if model is None:
            self._id_maps.clear()
            self._known.clear()
        else:
            self._id_maps.pop(model, None)
            self._known.pop(model, None)


class SeenRows:
    """The rows of one model that a run found unchanged, and so did not write: kept in memory (`pk.int` in a
    set, about 80 bytes a row: 80 MB per million), so that an unchanged re-sync writes nothing and deletion
    still knows what was listed."""

    def __init__(self, *, concurrent: bool = False, load_id_maps: bool = True) -> None:
        # Other processes may write the same models meanwhile (a push, or the listing of a model pushes write):
        # each batch then takes the write lock first (see `locks`), and external ids the id maps lack are looked
        # up again, since another process may have written them since the maps were loaded.
        self.concurrent = concurrent
        # False: look unindexed external ids up batch by batch instead of loading the table's whole
        # external_id -> pk map once (a push writes a few rows of a table, a listing reads all of them).
        self.load_id_maps = load_id_maps
        self.pks: set[int] = set()
        # Why some rows found unchanged are not in :attr:`pks` (a resumed run whose interrupted part died
        # with them): deletion must then wait for a listing that sees them all.
        self.lost: str | None = None

    def __contains__(self, pk: uuid.UUID) -> bool:
        return pk.int in self.pks
