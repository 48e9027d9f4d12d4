"""One datasource per Stripe endpoint this app keeps."""

from pyck.contrib.stripe import (
    Charge,
    Customer,
    Invoice,
    PaymentIntent,
    Price,
    Product,
    StripeDatasource,
    Subscription,
)

customers = StripeDatasource(resource_type=Customer)
products = StripeDatasource(resource_type=Product)
prices = StripeDatasource(resource_type=Price)
subscriptions = StripeDatasource(resource_type=Subscription)
invoices = StripeDatasource(resource_type=Invoice)
payment_intents = StripeDatasource(resource_type=PaymentIntent)
charges = StripeDatasource(resource_type=Charge)
