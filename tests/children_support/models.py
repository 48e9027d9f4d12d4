"""``Tag`` and ``Tagging``: a model listed once per row of its parent (``SyncConfig(for_each=...)``).

The classes are those of "Writing datasources" (its ``child-listing-models`` block; ``tests/test_docs.py`` checks).
"""

from __future__ import annotations

from django.db import models

from pyck.core.datasources import ForEach, OnDelete, SyncConfig, SyncedModel

from .api import taggings, tags


class Tag(SyncedModel):
    """A tag of ``/tags``."""

    sync_config = SyncConfig(datasource=tags, on_delete=OnDelete.DELETE)
    external_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)


class Tagging(SyncedModel):
    """A tagging of ``/tags/{tag_id}/taggings``: its tag comes from the listing it was read under."""

    sync_config = SyncConfig(datasource=taggings, for_each=ForEach("tag", param="tag_id"), on_delete=OnDelete.DELETE)
    external_id = models.CharField(max_length=100, unique=True)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="taggings")
    person = models.CharField(max_length=100)
    # Local-only: never written by a sync.
    note = models.CharField(max_length=100, blank=True, default="")


class LooseTagging(SyncedModel):
    """The same listing as ``Tagging``, with a nullable foreign key: a tag's deletion leaves its rows without one."""

    sync_config = SyncConfig(datasource=taggings, for_each=ForEach("tag", param="tag_id"), on_delete=OnDelete.DELETE)
    external_id = models.CharField(max_length=100, unique=True)
    tag = models.ForeignKey(Tag, null=True, on_delete=models.SET_NULL, related_name="loose_taggings")
    person = models.CharField(max_length=100)
