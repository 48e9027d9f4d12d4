"""The models of the docs page "NationBuilder" (docs/datasources/nationbuilder.md, block `nb-models`)."""

from datetime import timedelta

from django.db import models

from pyck.contrib.nationbuilder import INCREMENTAL_PARAM, Donations, SignupTags, Signups
from pyck.core.datasources import Incremental, OnDelete, SyncConfig, SyncedModel


class Tag(SyncedModel):
    sync_config = SyncConfig(datasource=SignupTags(), on_delete=OnDelete.DELETE)

    external_id = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200, null=True)


class Person(SyncedModel):
    sync_config = SyncConfig(
        datasource=Signups(),
        on_delete=OnDelete.DELETE,
        field_map={"tags": "signup_tags"},
        incremental=Incremental(
            field="updated_at", param=INCREMENTAL_PARAM, lookback=timedelta(minutes=1), reconcile_interval=timedelta(days=1)
        ),
    )

    external_id = models.CharField(max_length=32, unique=True)
    first_name = models.CharField(max_length=200, null=True)
    last_name = models.CharField(max_length=200, null=True)
    email = models.EmailField(null=True)
    updated_at = models.DateTimeField(null=True)
    tags = models.ManyToManyField(Tag, blank=True)


class Donation(SyncedModel):
    sync_config = SyncConfig(datasource=Donations(), on_delete=OnDelete.DELETE, field_map={"donor": "signup"})

    external_id = models.CharField(max_length=32, unique=True)
    amount_in_cents = models.IntegerField(null=True)
    donor = models.ForeignKey(Person, null=True, on_delete=models.SET_NULL, related_name="donations")


class Note(models.Model):
    """Your own notes about a person: not synced, but kept when NationBuilder merges two people."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField()
