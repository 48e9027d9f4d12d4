"""``Customer`` and three models referencing it: by a nullable foreign key (``Subscription``), by a required one
(``Invoice``) and by a many-to-many field (``Team``)."""

from __future__ import annotations

from django.db import models

from pyck.core.datasources import OnDelete, SyncConfig, SyncedModel

from . import api


class Customer(SyncedModel):
    """A Stripe customer; rows of deleted customers are deleted."""

    sync_config = SyncConfig(datasource=api.customers, on_delete=OnDelete.DELETE, max_delete_fraction=1.0)
    external_id = models.CharField(max_length=50, unique=True)
    email = models.CharField(max_length=100)


class Subscription(SyncedModel):
    """A subscription, whose customer may have been deleted."""

    sync_config = SyncConfig(datasource=api.subscriptions)
    external_id = models.CharField(max_length=50, unique=True)
    status = models.CharField(max_length=20)
    customer = models.ForeignKey(Customer, null=True, on_delete=models.SET_NULL, related_name="subscriptions")


class Invoice(SyncedModel):
    """An invoice, which needs its customer."""

    sync_config = SyncConfig(datasource=api.invoices)
    external_id = models.CharField(max_length=50, unique=True)
    total = models.IntegerField()
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="invoices")


class Team(SyncedModel):
    """A set of customers."""

    sync_config = SyncConfig(datasource=api.teams)
    external_id = models.CharField(max_length=50, unique=True)
    name = models.CharField(max_length=50)
    members = models.ManyToManyField(Customer, related_name="teams")
