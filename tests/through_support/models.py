"""`Person` links tags through `Tagging`, a through model of its own with extra columns; `Contact` syncs the same
records with tags through Django's automatic table, the case `Person`'s query counts are compared with."""

from __future__ import annotations

from django.db import models

from pyck.core.datasources import SyncConfig, SyncedModel

from .resources import people, tags

# Both people models read the first identifier and the first email address out of their lists.
FIELD_MAP = {"identifier": "identifiers.0", "email": "email_addresses.0.address"}


class Tag(SyncedModel):
    """A tag, referenced by people by id or embedded."""

    sync_config = SyncConfig(datasource=tags, sync_interval=None)
    external_id = models.CharField(max_length=50, unique=True)
    name = models.CharField(max_length=100)


class Person(SyncedModel):
    """Tags through `Tagging`: `weight` mapped from the link, `list_source` from the record."""

    sync_config = SyncConfig(
        datasource=people,
        sync_interval=None,
        field_map=FIELD_MAP,
        through_map={"tags": {"weight": "link.weight", "list_source": "record.source"}},
    )
    external_id = models.CharField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    identifier = models.CharField(max_length=100, null=True)
    email = models.CharField(max_length=100, null=True)
    tags = models.ManyToManyField(Tag, through="Tagging", related_name="people")


class Tagging(models.Model):
    """The link of a person and a tag, with columns of its own."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
    # Required, no default: filled from the link (through_map).
    weight = models.IntegerField()
    # Filled from the record (through_map).
    list_source = models.CharField(max_length=50, null=True)
    # Neither mapped nor local: its default.
    origin = models.CharField(max_length=20, default="api")
    # Local-only: the sync never writes it.
    note = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "tag"], name="through_support_tagging_once")]


class Contact(SyncedModel):
    """The same records as `Person`, tags through Django's automatic through table."""

    sync_config = SyncConfig(datasource=people, sync_interval=None, field_map=FIELD_MAP)
    external_id = models.CharField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    identifier = models.CharField(max_length=100, null=True)
    email = models.CharField(max_length=100, null=True)
    tags = models.ManyToManyField(Tag, related_name="contacts")
