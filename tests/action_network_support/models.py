"""The models of the docs page "Action Network" (docs/datasources/action-network.md, block `an-models`)."""

from django.db import models

from pyck.contrib.action_network.incremental import modified_since
from pyck.contrib.action_network.models import AbstractTagging
from pyck.core.datasources import ForEach, OnDelete, SyncConfig, SyncedModel

from .action_network import attendances, donations, events, people, tags


class Tag(SyncedModel):
    sync_config = SyncConfig(datasource=tags, on_delete=OnDelete.DELETE)
    external_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)


class Person(SyncedModel):
    sync_config = SyncConfig(
        datasource=people,
        on_delete=OnDelete.DELETE,
        incremental=modified_since(),  # filter=modified_date gt '...'
        field_map={"email": "email_addresses.0.address"},
    )
    external_id = models.CharField(max_length=100, unique=True)
    given_name = models.CharField(max_length=200, null=True)
    family_name = models.CharField(max_length=200, null=True)
    email = models.EmailField(null=True)
    modified_date = models.DateTimeField(null=True)
    # Linked through the taggings of each tag (/tags/{tag_id}/taggings).
    tags = models.ManyToManyField(Tag, through="Tagging", related_name="people")


class Tagging(AbstractTagging):
    pass


class Event(SyncedModel):
    sync_config = SyncConfig(datasource=events, on_delete=OnDelete.DELETE)
    external_id = models.CharField(max_length=100, unique=True)
    title = models.CharField(max_length=500, null=True)
    start_date = models.DateTimeField(null=True)


class Attendance(SyncedModel):
    # One listing per event: /events/{event_id}/attendances.
    sync_config = SyncConfig(
        datasource=attendances, for_each=ForEach("event", param="event_id"), on_delete=OnDelete.DELETE
    )
    external_id = models.CharField(max_length=100, unique=True)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attendances")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="attendances")
    status = models.CharField(max_length=50, null=True)


class Donation(SyncedModel):
    sync_config = SyncConfig(datasource=donations, on_delete=OnDelete.DELETE)
    external_id = models.CharField(max_length=100, unique=True)
    person = models.ForeignKey(Person, on_delete=models.SET_NULL, null=True, related_name="donations")
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    currency = models.CharField(max_length=3, null=True)
