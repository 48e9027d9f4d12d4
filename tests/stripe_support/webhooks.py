"""The Stripe receiver of the test app (found by the inbox's autodiscovery): events change its models."""

from pyck.contrib.stripe.webhooks import StripeWebhookReceiver
from pyck.core.webhooks import register_receiver

register_receiver(
    StripeWebhookReceiver(
        models=[
            "stripe_support.Customer",
            "stripe_support.Product",
            "stripe_support.Price",
            "stripe_support.Subscription",
            "stripe_support.Invoice",
            "stripe_support.PaymentIntent",
            "stripe_support.Charge",
        ]
    )
)
