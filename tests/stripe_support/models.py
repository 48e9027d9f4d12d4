"""Stripe's customers, products, prices, subscriptions, invoices, payment intents and charges."""

from datetime import timedelta

from django.db import models

from pyck.contrib.stripe import stripe_incremental
from pyck.core.datasources import OnDelete, SyncConfig, SyncedModel

from . import datasources


def stripe_config(datasource, **options):
    """Every model: changes read from the Events API every 5 minutes, a full sync once a day."""
    return SyncConfig(
        datasource=datasource,
        sync_interval=timedelta(minutes=5),
        incremental=stripe_incremental(reconcile_interval=timedelta(days=1)),
        field_map={"created_at": "created_at"},
        **options,
    )


class StripeModel(SyncedModel):
    """What every Stripe object has."""

    external_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(null=True)
    livemode = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict)

    class Meta:
        abstract = True


class Customer(StripeModel):
    sync_config = stripe_config(datasources.customers, on_delete=OnDelete.DELETE)
    email = models.EmailField(null=True)
    name = models.CharField(max_length=255, null=True)
    phone = models.CharField(max_length=50, null=True)
    balance = models.BigIntegerField(default=0)


class Product(StripeModel):
    sync_config = stripe_config(datasources.products, on_delete=OnDelete.DELETE)
    name = models.CharField(max_length=255)
    active = models.BooleanField(default=True)
    description = models.TextField(null=True)


class Price(StripeModel):
    sync_config = stripe_config(datasources.prices)
    product = models.ForeignKey(Product, null=True, on_delete=models.SET_NULL, related_name="prices")
    active = models.BooleanField(default=True)
    currency = models.CharField(max_length=3)
    unit_amount = models.BigIntegerField(null=True)
    type = models.CharField(max_length=20)
    nickname = models.CharField(max_length=255, null=True)


class Subscription(StripeModel):
    sync_config = stripe_config(datasources.subscriptions)
    customer = models.ForeignKey(Customer, null=True, on_delete=models.SET_NULL, related_name="subscriptions")
    status = models.CharField(max_length=30)
    cancel_at_period_end = models.BooleanField(default=False)


class Invoice(StripeModel):
    sync_config = stripe_config(datasources.invoices)
    customer = models.ForeignKey(Customer, null=True, on_delete=models.SET_NULL, related_name="invoices")
    status = models.CharField(max_length=20, null=True)
    currency = models.CharField(max_length=3)
    number = models.CharField(max_length=100, null=True)
    total = models.BigIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)


class PaymentIntent(StripeModel):
    sync_config = stripe_config(datasources.payment_intents)
    customer = models.ForeignKey(Customer, null=True, on_delete=models.SET_NULL, related_name="payment_intents")
    amount = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=40)


class Charge(StripeModel):
    sync_config = stripe_config(datasources.charges)
    customer = models.ForeignKey(Customer, null=True, on_delete=models.SET_NULL, related_name="charges")
    payment_intent = models.ForeignKey(PaymentIntent, null=True, on_delete=models.SET_NULL, related_name="charges")
    amount = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20)
    paid = models.BooleanField(default=False)
